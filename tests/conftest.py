"""Suite-wide settings.

Hypothesis profiles: ``default`` keeps the suite fast; ``KAIROS_HYPOTHESIS=long`` runs
many more examples (use it before changing the core).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("KAIROS_HYPOTHESIS", "default"))

REPO = Path(__file__).resolve().parent.parent


def traces_dir() -> Path | None:
    """Where real SWF traces are: $KAIROS_TRACES, else ../shared/traces beside the repo."""
    env = os.environ.get("KAIROS_TRACES")
    candidates = [Path(env)] if env else [REPO.parent / "shared" / "traces"]
    for c in candidates:
        if c.is_dir() and any(c.glob("*.swf*")):
            return c
    return None


def real_trace(stem: str) -> Path:
    """The real trace file named ``stem`` (e.g. ``KTH-SP2-1996-2.1-cln``), or skip."""
    folder = traces_dir()
    if folder is None:
        pytest.skip("no trace folder: set KAIROS_TRACES or put traces in ../shared/traces")
    for suffix in (".swf.gz", ".swf"):
        if (folder / f"{stem}{suffix}").exists():
            return folder / f"{stem}{suffix}"
    pytest.skip(f"{stem} not in {folder} (KAIROS_TRACES names the trace folder)")


@pytest.fixture
def trace_path():
    """``trace_path("KTH-SP2")``: the path of a real trace, or skip the test."""
    folder = traces_dir()

    def find(prefix: str) -> Path:
        if folder is None:
            pytest.skip("no SWF traces: set KAIROS_TRACES to a folder of Parallel Workloads Archive traces")
        matches = sorted(folder.glob(f"{prefix}*.swf*"))
        if not matches:
            pytest.skip(f"trace {prefix} not in {folder}")
        return matches[0]

    return find
