"""How single values are written."""

from __future__ import annotations

import pytest

from kairos.slurm.output.notation import format_size


@pytest.mark.parametrize("kib, text", [(0, "0"), (1234, "1234K"), (2048, "2M"),
                                       (3 * 1024 * 1024, "3G"), (1536, "1536K")])
def test_memory_prints_in_the_largest_exact_unit(kib, text):
    assert format_size(kib, "K") == text
