"""The layering rules, checked: dependencies point inward, and the core stays pure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "src" / "kairos" / "core"

#: What the core must never do: read a clock, draw global randomness, touch files,
#: sockets or processes, or configure logging.
FORBIDDEN = {
    r"^\s*(import|from)\s+(time|datetime|random|socket|subprocess|logging|os|pathlib|sqlite3)\b": "imports an I/O, clock or randomness module",
    r"\bopen\(": "opens a file",
    r"\bprint\(": "prints",
}


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_core_has_no_clock_io_or_randomness(path):
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        for pattern, what in FORBIDDEN.items():
            assert not re.search(pattern, line), f"{path.relative_to(REPO)}:{lineno} {what}: {line.strip()}"


def test_import_contracts():
    """import-linter's contracts in pyproject.toml (core imports no other layer, ...)."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
