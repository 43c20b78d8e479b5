"""What this machine offers to jobs: its name, usable CPUs, memory and GPUs.

The live controller builds its one-node cluster from these facts and the agent hands out
exactly these CPU ids and GPU indices, so they must describe what a job can really use:
the CPUs come from this process's affinity mask (a controller started under ``taskset``
or inside a cgroup cpuset only offers what it may use), memory keeps a reserve back for
the system, and GPUs come from NVML (``nvidia-ml-py``, imported as ``pynvml``). A machine
without GPUs, without the NVIDIA driver or without the package has an empty GPU list;
that is never an error.
"""

from __future__ import annotations

import os
import platform
import re
import socket
from dataclasses import dataclass, field

import psutil

MIB = 1024 * 1024

#: The most memory held back for the system, and the share of it: the reserve is the
#: smaller of the two.
DEFAULT_RESERVE_CAP_MIB = 1024
DEFAULT_RESERVE_SHARE = 0.10

#: Words in NVML device names that say nothing about the model.
_BRAND_WORDS = {"nvidia", "tesla", "geforce", "quadro", "titan"}
#: Name parts that describe memory size, packaging or interconnect rather than the model.
_MODEL_SUFFIXES = ("ti", "super", "ada")
_PACKAGING = re.compile(r"^(\d+gb|sxm\d*|pcie|hbm\d*e?|nvl|nvlink|mig|dgxs|max-q|\d+w)$")


@dataclass(frozen=True)
class GpuFact:
    """One GPU as NVML numbers it.

    ``index`` is NVML's index, which is PCI bus order (what ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
    gives CUDA); ``uuid`` stays stable across reboots, the index does not. ``type`` is the
    short lower-case model that ``--gres=gpu:<type>:N`` names (``"h100"``); ``name`` is
    NVML's full name.
    """

    index: int
    uuid: str
    type: str
    mem_mib: int
    name: str = ""


@dataclass(frozen=True)
class NodeFacts:
    """This machine as the controller schedules it."""

    name: str
    cpus: list[int]
    mem_mib: int
    gpus: list[GpuFact] = field(default_factory=list)
    boot_time: float = 0.0
    os: str = ""

    def gpu_types(self) -> dict[str, int]:
        """How many GPUs of each type the machine has, e.g. ``{"a100": 4}``."""
        counts: dict[str, int] = {}
        for gpu in self.gpus:
            counts[gpu.type] = counts.get(gpu.type, 0) + 1
        return counts


def detect(*, mem_reserve_mib: int | None = None) -> NodeFacts:
    """The facts of the machine this process runs on.

    ``mem_reserve_mib`` is the memory kept back for the system; by default the smaller of
    1 GiB and 10 % of the total.
    """
    total_mib = psutil.virtual_memory().total // MIB
    reserve = default_reserve_mib(total_mib) if mem_reserve_mib is None else mem_reserve_mib
    if reserve < 0:
        raise ValueError(f"mem_reserve_mib is {reserve}: the memory reserve cannot be negative; pass 0 or more MiB")
    uname = platform.uname()
    return NodeFacts(
        name=short_hostname(),
        cpus=sorted(os.sched_getaffinity(0)),
        mem_mib=max(0, total_mib - reserve),
        gpus=detect_gpus(),
        boot_time=psutil.boot_time(),
        os=f"{uname.system} {uname.release}",
    )


def default_reserve_mib(total_mib: int) -> int:
    """The memory held back from jobs: the smaller of 1 GiB and a tenth of the total."""
    return min(DEFAULT_RESERVE_CAP_MIB, int(total_mib * DEFAULT_RESERVE_SHARE))


def short_hostname() -> str:
    """The host name up to the first dot, as Slurm names nodes."""
    return socket.gethostname().split(".", 1)[0]


def detect_gpus() -> list[GpuFact]:
    """The GPUs NVML sees, in NVML index order; empty without NVML or GPUs."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver or library: NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        return []
    try:
        return [_gpu_fact(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:
        return []
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _gpu_fact(pynvml, position: int) -> GpuFact:
    handle = pynvml.nvmlDeviceGetHandleByIndex(position)
    name = _text(pynvml.nvmlDeviceGetName(handle))
    return GpuFact(
        index=int(pynvml.nvmlDeviceGetIndex(handle)),
        uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        type=gpu_type(name),
        mem_mib=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) // MIB,
        name=name,
    )


def _text(value: str | bytes) -> str:
    """NVML strings: ``str`` in current nvidia-ml-py, ``bytes`` in old releases."""
    return value.decode() if isinstance(value, bytes) else value


def gpu_type(nvml_name: str) -> str:
    """A short Slurm-like GPU type from NVML's device name.

    ``"NVIDIA H100 80GB HBM3"`` -> ``"h100"``, ``"NVIDIA A100-SXM4-40GB"`` -> ``"a100"``,
    ``"Tesla V100-SXM2-16GB"`` -> ``"v100"``, ``"NVIDIA GeForce RTX 3090"`` -> ``"rtx3090"``,
    ``"NVIDIA RTX A6000"`` -> ``"a6000"``, ``"NVIDIA L40S"`` -> ``"l40s"``.
    """
    words = [w for w in re.split(r"[\s\-_]+", nvml_name.lower()) if w]
    words = [w for w in words if w not in _BRAND_WORDS and not _PACKAGING.match(w)]
    if not words:
        return "gpu"
    first, rest = words[0], words[1:]
    if first in {"rtx", "gtx"} and rest:
        if rest[0][0].isalpha():  # professional RTX A-series: "RTX A6000"
            return rest[0]
        suffixes = [w for w in rest[1:] if w in _MODEL_SUFFIXES]
        return first + rest[0] + "".join(suffixes)  # "rtx 3090 ti" -> "rtx3090ti"
    return first
