"""What sstat prints of running steps: the fields Kairos has data for, with Slurm 22.05's
headers and widths (checked on the peer), in sacct's layout (a header, a line of dashes,
fields padded to their widths; ``-p``/``-P`` join with ``|``).

A step's usage is what its nodes last reported (``LiveStep.cpu_time``, ``max_rss``);
a field Slurm has and Kairos does not record (virtual memory, pages, disk, energy, per
task and per node extremes) is refused by name rather than printed empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.notation import format_clock, format_size

SSTAT_DEFAULT_FIELDS = "JobID,MaxRSS,AveCPU,NTasks"


@dataclass(frozen=True)
class SstatField:
    header: str
    width: int
    value: Callable[[Mapping[str, Any]], str]
    left: bool = False


def _ave_cpu(step: Mapping[str, Any]) -> str:
    cpu = step.get("cpu_time")
    return "" if cpu is None else format_clock(cpu / max(1, int(step.get("ntasks") or 1)))


def _max_rss(step: Mapping[str, Any]) -> str:
    rss = step.get("max_rss")
    return "" if rss is None else format_size(int(rss), "K")


_FIELDS: dict[str, SstatField] = {
    "jobid": SstatField("JobID", 12, lambda s: f"{s['job_id']}.{s['step_id']}", left=True),
    "avecpu": SstatField("AveCPU", 10, _ave_cpu),
    "maxrss": SstatField("MaxRSS", 10, _max_rss),
    "ntasks": SstatField("NTasks", 8, lambda s: str(s.get("ntasks") or "")),
    "nodelist": SstatField("Nodelist", 20, lambda s: str(s.get("node_list") or "")),
}

#: sstat's other fields (``sstat -e``): Slurm has them, Kairos does not record them.
NOT_RECORDED = (
    "AveCPUFreq AveDiskRead AveDiskWrite AvePages AveRSS AveVMSize ConsumedEnergy "
    "ConsumedEnergyRaw MaxDiskRead MaxDiskReadNode MaxDiskReadTask MaxDiskWrite "
    "MaxDiskWriteNode MaxDiskWriteTask MaxPages MaxPagesNode MaxPagesTask MaxRSSNode "
    "MaxRSSTask MaxVMSize MaxVMSizeNode MaxVMSizeTask MinCPU MinCPUNode MinCPUTask Pids "
    "ReqCPUFreq ReqCPUFreqMin ReqCPUFreqMax ReqCPUFreqGov TRESUsageInAve TRESUsageInMax "
    "TRESUsageInMaxNode TRESUsageInMaxTask TRESUsageInMin TRESUsageInMinNode "
    "TRESUsageInMinTask TRESUsageInTot TRESUsageOutAve TRESUsageOutMax "
    "TRESUsageOutMaxNode TRESUsageOutMaxTask TRESUsageOutMin TRESUsageOutMinNode "
    "TRESUsageOutMinTask TRESUsageOutTot").split()
_NOT_RECORDED = {name.lower() for name in NOT_RECORDED}


@dataclass(frozen=True)
class SstatColumn:
    field: SstatField
    width: int
    left: bool


def parse_sstat_fields(fields: str) -> list[SstatColumn]:
    """``JobID,MaxRSS%20`` -> columns; ``FormatError`` for a field sstat does not know
    (Slurm's words) or one Kairos does not record."""
    columns = []
    for item in (part.strip() for part in fields.split(",")):
        if not item:
            continue
        name, percent, width_text = item.partition("%")
        spec = _FIELDS.get(name.lower())
        if spec is None:
            if name.lower() in _NOT_RECORDED:
                known = ", ".join(f.header for f in _FIELDS.values())
                raise FormatError(f'Field "{name}" is not recorded by Kairos (fields: {known})')
            raise FormatError(f'Invalid field requested: "{name}"')
        width, left = spec.width, spec.left
        if percent:
            try:
                number = int(width_text)
            except ValueError:
                raise FormatError(f'Invalid field width in "{item}": use Field%N') from None
            width, left = abs(number), number < 0
        columns.append(SstatColumn(spec, width, left))
    if not columns:
        raise FormatError("No fields requested: give a comma list such as JobID,MaxRSS")
    return columns


def sstat_field_names() -> list[str]:
    """The fields ``-o`` takes (``sstat -e``)."""
    return [spec.header for spec in _FIELDS.values()]


def format_sstat(steps: Iterable[Mapping[str, Any]], fields: str | None = None, *,
                 header: bool = True, parsable2: bool = False, parsable: bool = False) -> str:
    """sstat's table for ``steps`` (``LiveStep`` wire dicts)."""
    columns = parse_sstat_fields(fields or SSTAT_DEFAULT_FIELDS)
    rows = [[c.field.value(step) for c in columns] for step in steps]
    lines = []
    if parsable or parsable2:
        end = "|" if parsable else ""
        if header:
            lines.append("|".join(c.field.header for c in columns) + end)
        lines += ["|".join(row) + end for row in rows]
    else:
        if header:
            lines.append("".join(_pad(c.field.header[:c.width], c) + " " for c in columns))
            lines.append("".join("-" * c.width + " " for c in columns))
        lines += ["".join(_pad(_cut(v, c), c) + " " for v, c in zip(row, columns)) for row in rows]
    return "".join(line + "\n" for line in lines)


def _cut(text: str, column: SstatColumn) -> str:
    return text if len(text) <= column.width else text[:max(0, column.width - 1)] + "+"


def _pad(text: str, column: SstatColumn) -> str:
    return text.ljust(column.width) if column.left else text.rjust(column.width)
