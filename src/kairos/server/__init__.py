"""The live manager: the scheduling core on the wall clock, its API, database and settings.

See ``docs/live.md`` for the pieces (``config``, ``store``, ``controller``, ``api``,
``daemon``) and the JSON they exchange.
"""
