"""What sshare prints: fair-share shares and usage per account and user, in Slurm
22.05's fixed columns (``-l`` adds NormUsage and LevelFS), or joined by ``|``
(``-P``/``-p``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kairos.slurm.output.records import ShareRecord


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


@dataclass(frozen=True)
class ShareColumn:
    """An sshare column: header, width, side, value; ``long_only`` for ``-l``."""

    header: str
    width: int
    value: Callable[[ShareRecord], str]
    left: bool = False
    long_only: bool = False

    def cell(self, text: str) -> str:
        text = text[:self.width]
        return text.ljust(self.width) if self.left else text.rjust(self.width)


_COLUMNS = [
    ShareColumn("Account", 20, lambda r: (" " + r.account) if r.user else r.account,
                left=True),
    ShareColumn("User", 10, lambda r: r.user),
    ShareColumn("RawShares", 10,
                lambda r: "" if r.raw_shares is None else f"{r.raw_shares:.0f}"),
    ShareColumn("NormShares", 11, lambda r: _fraction(r.norm_shares)),
    ShareColumn("RawUsage", 11, lambda r: f"{r.raw_usage:.0f}"),
    ShareColumn("NormUsage", 11, lambda r: _fraction(r.norm_usage), long_only=True),
    ShareColumn("EffectvUsage", 13, lambda r: _fraction(r.effective_usage)),
    ShareColumn("FairShare", 10, lambda r: _fraction(r.fairshare)),
    ShareColumn("LevelFS", 10, lambda r: _fraction(r.level_fs), long_only=True),
]


def format_sshare(rows: Iterable[Mapping[str, Any]], *, header: bool = True,
                  long: bool = False, parsable2: bool = False, parsable: bool = False) -> str:
    """sshare's table of fair-share associations (``client.shares()`` dicts), in the
    order given (a user's line shows its account indented by one space, as Slurm
    does)."""
    columns = [c for c in _COLUMNS if long or not c.long_only]
    values = [[c.value(ShareRecord.from_wire(r)) for c in columns] for r in rows]
    out = []
    if parsable or parsable2:
        end = "|" if parsable else ""
        if header:
            out.append("|".join(c.header for c in columns) + end)
        out += ["|".join(row) + end for row in values]
    else:
        if header:
            out.append("".join(c.cell(c.header) + " " for c in columns))
            out.append("".join("-" * c.width + " " for c in columns))
        out += ["".join(c.cell(v) + " " for v, c in zip(row, columns)) for row in values]
    return "".join(line + "\n" for line in out)
