"""Job dependency specs (``--dependency``): ``afterok:12:13,afterany:14,singleton``.

A job waits until every listed condition holds (``,`` means "and").  Kinds: ``after``
(the other job started or was cancelled), ``afterok`` (it completed with exit code 0),
``afternotok`` (it failed, timed out, ...), ``afterany`` (it ended, however) and
``singleton`` (no other job of the same user and name is running or ahead).  As in
Slurm, kinds are case-insensitive and a bare job id means ``afterany``.

Job ids: a plain id (``12``) comes back as an ``int``; an array task (``12_3``) comes
back as the string ``"12_3"`` so that the caller, who knows the array, can resolve it
to that task's own job id.  Not supported, with an error saying so: ``?`` (any of),
``after:ID+MINUTES`` delays, and the kinds ``aftercorr``, ``afterburstbuffer`` and
``expand``.
"""

from __future__ import annotations

import re

DEPENDENCY_KINDS = ("after", "afterok", "afternotok", "afterany", "singleton")
_UNSUPPORTED_KINDS = ("aftercorr", "afterburstbuffer", "expand")
_JOB_ID = re.compile(r"\d+")
_ARRAY_TASK_ID = re.compile(r"\d+_\d+")

DependencyTarget = int | str | None


def parse_dependency(spec: str) -> list[tuple[str, DependencyTarget]]:
    """``(kind, job id)`` pairs of a ``--dependency`` spec; ``afterok:12:13`` gives two
    pairs and ``singleton`` gives ``("singleton", None)``.

    Raises ``ValueError`` naming the faulty part and saying what to write instead.
    """
    text = spec.strip()
    if not text:
        raise ValueError(f"empty dependency {spec!r}: use KIND:JOBID[:JOBID...] with "
                         f"KIND one of {', '.join(DEPENDENCY_KINDS)}")
    if "?" in text:
        raise ValueError(f"dependency {spec!r}: '?' (any of) dependencies are not "
                         "supported; use ',' so that all must hold")
    pairs: list[tuple[str, DependencyTarget]] = []
    for item in text.split(","):
        pairs.extend(_parse_item(spec, item.strip()))
    return pairs


def _parse_item(spec: str, item: str) -> list[tuple[str, DependencyTarget]]:
    if not item:
        raise ValueError(f"dependency {spec!r}: an item is empty; separate items "
                         "with single commas")
    if _JOB_ID.fullmatch(item) or _ARRAY_TASK_ID.fullmatch(item):
        return [("afterany", _job_id(spec, item))]
    kind, _, ids_text = item.partition(":")
    kind = kind.lower()
    if kind == "singleton":
        if ids_text:
            raise ValueError(f"dependency {spec!r}: singleton takes no job ids")
        return [("singleton", None)]
    _check_kind(spec, kind)
    if not ids_text:
        raise ValueError(f"dependency {spec!r}: {kind} needs job ids, as in {kind}:12:13")
    return [(kind, _job_id(spec, job)) for job in ids_text.split(":")]


def _check_kind(spec: str, kind: str) -> None:
    if kind in _UNSUPPORTED_KINDS:
        raise ValueError(f"dependency {spec!r}: the kind {kind!r} is not supported; "
                         f"use one of {', '.join(DEPENDENCY_KINDS)}")
    if kind not in DEPENDENCY_KINDS:
        raise ValueError(f"dependency {spec!r}: unknown kind {kind!r}; use one of "
                         f"{', '.join(DEPENDENCY_KINDS)}")


def _job_id(spec: str, text: str) -> DependencyTarget:
    if "+" in text:
        raise ValueError(f"dependency {spec!r}: delays after a job ({text!r}) are not "
                         "supported")
    if _JOB_ID.fullmatch(text):
        return int(text)
    if _ARRAY_TASK_ID.fullmatch(text):
        return text
    raise ValueError(f"dependency {spec!r}: {text!r} is not a job id (12) or an "
                     "array task (12_3)")


def format_dependency(pairs: list[tuple[str, DependencyTarget]]) -> str:
    """The spec for ``pairs``, one item per pair: ``afterok:12,singleton``."""
    return ",".join(kind if target is None else f"{kind}:{target}" for kind, target in pairs)
