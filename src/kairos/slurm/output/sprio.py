"""What sprio prints: each pending job's priority and its weighted factors, with
sprio's ``%`` letters and default formats, as in Slurm 22.05.

The default columns follow the 22.05 manual without the association and TRES factors,
which Kairos does not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kairos.slurm.output.columns import Column, parse_percent_format, render
from kairos.slurm.output.records import PriorityRecord

SPRIO_DEFAULT_FORMAT = "%.15i %9r %.10Y %.10S %.10A %.10F %.10J %.10P %.10Q"
SPRIO_LONG_FORMAT = "%.15i %9r %.8u %.10Y %.10S %.10A %.10F %.10J %.10P %.10Q %.11N"

_COLUMNS: dict[str, Column] = {
    "i": Column("JOBID", lambda r: r.job_id),
    "r": Column("PARTITION", lambda r: r.partition),
    "u": Column("USER", lambda r: r.user),
    "o": Column("ACCOUNT", lambda r: r.account),
    "Y": Column("PRIORITY", lambda r: f"{r.priority:.0f}"),
    "S": Column("SITE", lambda r: r.factor("site")),
    "A": Column("AGE", lambda r: r.factor("age")),
    "F": Column("FAIRSHARE", lambda r: r.factor("fairshare")),
    "J": Column("JOBSIZE", lambda r: r.factor("jobsize")),
    "P": Column("PARTITION", lambda r: r.factor("partition")),
    "Q": Column("QOS", lambda r: r.factor("qos")),
    "N": Column("NICE", lambda r: r.factor("nice")),
}


def format_sprio(rows: Iterable[Mapping[str, Any]], fmt: str | None = None, *,
                 header: bool = True, long: bool = False) -> str:
    """sprio's table of weighted priority factors for ``client.priority()`` dicts, by
    ascending job id."""
    tokens = parse_percent_format(
        fmt or (SPRIO_LONG_FORMAT if long else SPRIO_DEFAULT_FORMAT), _COLUMNS)
    records = sorted((PriorityRecord.from_wire(r) for r in rows), key=lambda r: r.sort_key)
    return render(tokens, _COLUMNS, records, header=header)
