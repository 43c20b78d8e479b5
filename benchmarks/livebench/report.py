"""What one run found: a row per measure with both systems' values, a goal for some,
and the run's notes, for the table, the Markdown page and the JSON file."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

#: The table's columns, in the terminal and on the Markdown page.
COLUMNS = ("measure", "Kairos", "Slurm 22.05 peer", "Kairos vs peer", "target", "verdict")
#: Shown in the peer's column when the peer could not be measured.
PEER_UNAVAILABLE = "peer unavailable"


@dataclass(frozen=True)
class Target:
    """A goal for one row: Kairos's own value, or its advantage over the peer."""

    text: str
    check: Callable[[float | None, float | None], bool | None]


def at_least(value: float, unit: str) -> Target:
    return Target(f">= {value:,.0f} {unit}", lambda kairos, ratio: None if kairos is None else kairos >= value)


def at_most(value: float, unit: str) -> Target:
    return Target(f"<= {value:,.0f} {unit}", lambda kairos, ratio: None if kairos is None else kairos <= value)


def faster_by(times: float) -> Target:
    return Target(f">= {times:g}x the peer", lambda kairos, ratio: None if ratio is None else ratio >= times)


@dataclass
class Row:
    """One line of the table: a measure, both systems' values and how they compare."""

    key: str
    measure: str
    unit: str  #: "jobs/s", "s" or "ms"
    kairos: float | None = None
    peer: float | None = None
    peer_note: str = ""  #: shown instead of a peer value ("n/a", "peer unavailable")
    higher_is_better: bool = False
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better Kairos did than the peer."""
        if not self.kairos or not self.peer:
            return None
        return self.kairos / self.peer if self.higher_is_better else self.peer / self.kairos

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        met = self.target.check(self.kairos, self.ratio)
        return "" if met is None else ("met" if met else "MISSED")

    def cells(self) -> list[str]:
        peer = self.peer_note if self.peer is None else _number(self.peer, self.unit)
        ratio = "" if self.ratio is None else (
            f"{self.ratio:.1f}x" if self.ratio >= 1 else f"{self.ratio:.2g}x")
        return [self.measure, _number(self.kairos, self.unit), peer, ratio,
                self.target.text if self.target else "", self.verdict]

    def to_json(self) -> dict:
        return {"key": self.key, "measure": self.measure, "unit": self.unit,
                "kairos": self.kairos, "peer": self.peer, "peer_note": self.peer_note,
                "ratio": self.ratio, "target": self.target.text if self.target else None,
                "verdict": self.verdict or None, "note": self.note}


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "jobs/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:,.1f} s"
    return f"{value:,.0f} ms"


@dataclass
class Report:
    """Everything one run found, for the table, the JSON file and the Markdown page."""

    rows: list[Row] = field(default_factory=list)
    imports: list[dict] = field(default_factory=list)
    peer_parameters: dict[str, str] = field(default_factory=dict)
    peer_cadence: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)  #: 1-minute load average, per phase
    peer_reused_from: str | None = None  #: the date of the run the peer numbers come from

    def sample_load(self) -> None:
        self.loads.append(os.getloadavg()[0])

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def all_notes(self) -> list[str]:
        """The run's notes, then each row's own."""
        return self.notes + [f"{row.measure}: {row.note}" for row in self.rows if row.note]
