"""GPU requests: ``--gres=gpu[:type][:count]`` and ``--gpus=[type:]count``.

Kairos schedules GPUs as its only generic resource, so a request for any other gres
(``--gres=nvme:1``) is an error rather than silently ignored.  A request is a list of
``(type or None, count)`` pairs, one per comma-separated item: ``gpu:a100:2,gpu:v100:1``
gives ``[("a100", 2), ("v100", 1)]``.  ``--gres=none`` (as in Slurm) asks for nothing.
"""

from __future__ import annotations

import re

GpuRequest = list[tuple[str | None, int]]

_TYPE = re.compile(r"[A-Za-z0-9_.\-]+")
_GRES_FORM = "gpu, gpu:COUNT or gpu:TYPE:COUNT (comma-separated), e.g. gpu:a100:2"
_GPUS_FORM = "COUNT or TYPE:COUNT (comma-separated), e.g. 2 or a100:2"


def parse_gres(text: str) -> GpuRequest:
    """The GPUs a ``--gres`` value asks for, per node.

    Raises ``ValueError`` for a generic resource other than ``gpu`` or a malformed item.
    """
    value = text.strip()
    if value.lower() == "none":
        return []
    if not value:
        raise ValueError(f"empty gres {text!r}: use {_GRES_FORM}")
    return [_parse_gres_item(text, item.strip()) for item in value.split(",")]


def _parse_gres_item(text: str, item: str) -> tuple[str | None, int]:
    fields = item.split(":")
    name = fields[0].removeprefix("gres/")
    if name != "gpu":
        raise ValueError(f"invalid gres {text!r}: generic resource {fields[0]!r} is not "
                         f"supported, Kairos schedules only GPUs; use {_GRES_FORM}")
    rest = fields[1:]
    if not rest:
        return None, 1
    if len(rest) == 1:  # gpu:2 or gpu:a100
        return (None, int(rest[0])) if rest[0].isdigit() else (_gpu_type(text, rest[0]), 1)
    if len(rest) == 2:
        return _gpu_type(text, rest[0]), _count(text, rest[1], _GRES_FORM)
    raise ValueError(f"invalid gres {text!r}: cannot read {item!r}; use {_GRES_FORM}")


def parse_gpus(text: str) -> GpuRequest:
    """The GPUs a ``--gpus`` (or ``--gpus-per-node``) value asks for.

    Raises ``ValueError`` for a malformed item.
    """
    value = text.strip()
    if not value:
        raise ValueError(f"empty GPU request {text!r}: use {_GPUS_FORM}")
    request: GpuRequest = []
    for item in value.split(","):
        fields = item.strip().split(":")
        if len(fields) == 1:
            request.append((None, _count(text, fields[0], _GPUS_FORM)))
        elif len(fields) == 2:
            request.append((_gpu_type(text, fields[0]), _count(text, fields[1], _GPUS_FORM)))
        else:
            raise ValueError(f"invalid GPU request {text!r}: cannot read {item!r}; "
                             f"use {_GPUS_FORM}")
    return request


def _gpu_type(text: str, gpu_type: str) -> str:
    if not _TYPE.fullmatch(gpu_type):
        raise ValueError(f"invalid GPU request {text!r}: type {gpu_type!r} may only "
                         "hold letters, digits, '_', '-' or '.', e.g. a100")
    return gpu_type


def _count(text: str, count: str, form: str) -> int:
    if not count.isdigit():
        raise ValueError(f"invalid GPU request {text!r}: count {count!r} is not a "
                         f"whole number; use {form}")
    return int(count)
