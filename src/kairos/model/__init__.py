"""The live manager's data: one submission shape and one job record.

``Submission`` is what ``sbatch`` asks for; ``LiveJob`` is one job from submission to
accounting.  Both are plain typed dataclasses, standard library only, so the
Slurm-compatible commands, the controller, the store and the node agent share them
without paying for pydantic or SQLAlchemy at start-up.  ``kairos.model.job`` is the one
place where a job is converted to and from the database, the wire and the core.

The two names load on first use: ``sbatch`` needs ``Submission`` only, and should not
pay for the job record and the core's vocabulary behind it.
"""

from __future__ import annotations

import importlib

_HOMES = {"LiveJob": "job", "Submission": "submission"}

__all__ = ["LiveJob", "Submission"]


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kairos.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kairos.model.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
