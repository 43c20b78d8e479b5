"""Output file name patterns (``-o``/``-e``): ``slurm-%j.out``, ``%x-%A_%a.log``.

Replacement symbols, as Slurm 22.05 expands them for a batch job (checked on the peer):

* ``%j`` job id, ``%J`` job id (Slurm's jobid.stepid; the batch step prints the bare
  job id), ``%s`` step (``batch``), ``%A`` array master id (the job id when not an
  array), ``%a`` array index (``4294967294`` when not an array), ``%x`` job name,
  ``%u`` user, ``%N`` node name, ``%n`` node rank (0), ``%t`` task rank (0), ``%%``
  a literal ``%``.
* A number between ``%`` and the letter zero-pads numeric values: ``%4j`` gives
  ``0128``; it is ignored for text (``%5x``).
* Anything else (``%z``, ``%-3j``, a trailing ``%``) is left as written.
* A pattern with a backslash is not expanded at all; a backslash keeps the character
  after it (``a\\b`` gives ``ab``, ``\\\\`` gives ``\\``).
"""

from __future__ import annotations

import re

NO_ARRAY_TASK_ID = 4294967294  # what Slurm prints for %a outside an array
_SYMBOL = re.compile(r"%(\d*)([AaJjNnstux%])")
_ESCAPED = re.compile(r"\\(.?)", re.DOTALL)


def expand_pattern(pattern: str, *, job_id: int, array_job_id: int | None = None,
                   array_task_id: int | None = None, name: str, user: str,
                   node: str) -> str:
    """``pattern`` with its ``%`` symbols replaced for one batch job (see module doc)."""
    if "\\" in pattern:
        return _ESCAPED.sub(lambda m: m[1], pattern)
    values = {
        "j": str(job_id), "J": str(job_id), "s": "batch",
        "A": str(array_job_id if array_job_id is not None else job_id),
        "a": str(array_task_id if array_task_id is not None else NO_ARRAY_TASK_ID),
        "x": name, "u": user, "N": node, "n": "0", "t": "0", "%": "%",
    }

    def replace(match: re.Match[str]) -> str:
        width, symbol = match[1], match[2]
        value = values[symbol]
        if symbol == "%":
            return "%" + width
        if width and value.isdigit():
            return value.zfill(int(width))
        return value

    return _SYMBOL.sub(replace, pattern)
