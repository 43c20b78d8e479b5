"""Machine facts: what detect() finds here, and GPU type names from NVML names."""

from __future__ import annotations

import os

import psutil
import pytest

from kairos.node.facts import default_reserve_mib, detect, gpu_type


def test_detect_describes_this_machine():
    facts = detect()
    assert facts.name and "." not in facts.name
    assert facts.cpus == sorted(os.sched_getaffinity(0))
    total = psutil.virtual_memory().total // 2**20
    assert total - 1024 <= facts.mem_mib < total
    assert facts.boot_time <= psutil.Process().create_time()
    assert facts.os.startswith("Linux")
    for gpu in facts.gpus:  # empty without NVML; real GPUs must be well formed
        assert gpu.uuid and gpu.type and gpu.mem_mib > 0


def test_memory_reserve_is_configurable():
    total = psutil.virtual_memory().total // 2**20
    assert detect(mem_reserve_mib=0).mem_mib == total
    assert detect(mem_reserve_mib=100).mem_mib == total - 100
    with pytest.raises(ValueError, match="cannot be negative"):
        detect(mem_reserve_mib=-1)


def test_default_reserve_is_the_smaller_of_one_gib_and_a_tenth():
    assert default_reserve_mib(4096) == 409
    assert default_reserve_mib(512 * 1024) == 1024


@pytest.mark.parametrize("name, short", [
    ("NVIDIA H100 80GB HBM3", "h100"),
    ("NVIDIA H100 PCIe", "h100"),
    ("NVIDIA H100 NVL", "h100"),
    ("NVIDIA A100-SXM4-40GB", "a100"),
    ("NVIDIA A100 80GB PCIe", "a100"),
    ("Tesla V100-SXM2-16GB", "v100"),
    ("Tesla T4", "t4"),
    ("NVIDIA L40S", "l40s"),
    ("NVIDIA A10G", "a10g"),
    ("NVIDIA GH200 480GB", "gh200"),
    ("NVIDIA GeForce RTX 3090", "rtx3090"),
    ("NVIDIA GeForce GTX 1080 Ti", "gtx1080ti"),
    ("Quadro RTX 8000", "rtx8000"),
    ("NVIDIA RTX A6000", "a6000"),
    ("NVIDIA RTX 6000 Ada Generation", "rtx6000ada"),
])
def test_gpu_type_is_the_short_model_name(name, short):
    assert gpu_type(name) == short
