"""The compatibility matrix: what Kairos does with every option of Slurm 22.05's
``sbatch``, ``srun`` and ``salloc``, made from the option tables the three commands'
parsers are made from, so that the document cannot say other than the code does.

Each option is honoured, accepted with a warning that it changes nothing here (and
why), or refused (nothing is queued or run; the message says why and what to do
instead).  ``python -m kairos.slurm.compatibility`` prints the matrix in Markdown;
``--write PATH`` writes it (``docs/compatibility.md``), ``--check PATH`` exits with 1
when ``PATH`` is not what the code says.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kairos.slurm.option_engine import OptionDef, OptionTable

COMMANDS = ("sbatch", "srun", "salloc")
HONOURED, WARNS, REFUSED, ABSENT = "yes", "warns", "refused", "–"


def tables() -> dict[str, OptionTable]:
    """Each command's option table."""
    from kairos.slurm import salloc_options, sbatch_options, srun_options

    return {"sbatch": sbatch_options.TABLE, "srun": srun_options.TABLE,
            "salloc": salloc_options.TABLE}


@dataclass(frozen=True)
class Cell:
    """What one command does with one option: ``yes``, ``warns`` or ``refused``, and
    why for the last two."""

    status: str
    why: str = ""


def cell(option: OptionDef) -> Cell:
    if option.refused:
        return Cell(REFUSED, option.refused)
    if option.ignored:
        return Cell(WARNS, option.why)
    return Cell(HONOURED)


def matrix() -> dict[str, dict[str, Cell]]:
    """option long name -> command -> what it does (commands without the option are
    left out), for every option of the three commands."""
    rows: dict[str, dict[str, Cell]] = {}
    for command, table in tables().items():
        for option in table.options:
            rows.setdefault(option.long, {})[command] = cell(option)
    return dict(sorted(rows.items()))


def render() -> str:
    """``docs/compatibility.md``'s text."""
    found = tables()
    rows = matrix()
    inside_a_job = _srun_job_only()
    lines = [
        "# Slurm compatibility: the options of sbatch, srun and salloc",
        "",
        "Every option Slurm 22.05's `sbatch`, `srun` and `salloc` take, and what Kairos "
        "does with it:",
        "",
        f"* **{HONOURED}**: honoured, as Slurm does;",
        f"* **{WARNS}**: accepted, and the command prints a warning (`sbatch: warning: "
        "...`) saying that it changes nothing here and why; a script written for a "
        "Slurm cluster runs unchanged;",
        f"* **{REFUSED}**: honouring it would change what runs or where, so the command "
        "stops with an error saying why and what to do instead; nothing is queued and "
        "no job id is used;",
        f"* {ABSENT}: not an option of that command (in Slurm 22.05 either).",
        "",
        "An option unknown to Slurm is refused as Slurm refuses it (`sbatch: error: "
        "unrecognized option '--foo'`).  The commands' `--help` lists the same.  This "
        "file is made from the option tables the commands read their options with "
        "(`python -m kairos.slurm.compatibility --write docs/compatibility.md`); a test "
        "checks that it is up to date, and that every option of Slurm 22.05's `--help` "
        "is here.",
        "",
        "| Option | sbatch | srun | salloc | Why (for those not honoured) |",
        "|---|---|---|---|---|",
    ]
    for long, cells in rows.items():
        spelled = _spelling(long, found)
        statuses = [_status_text(cells.get(command)) for command in COMMANDS]
        notes = _notes(cells)
        if long in inside_a_job:
            notes = "; ".join(filter(None, [notes, "srun inside a job: warns (a step "
                                                   "has its job's)"]))
        lines.append(f"| {spelled} | {' | '.join(statuses)} | {_escape(notes)} |")
    lines += ["", "## Variables", "",
              "The variables each command reads set options below its command line (for "
              "sbatch, above its `#SBATCH` lines); one that sets an option Kairos does "
              "not honour is warned about or refused like the option.", ""]
    for command, table in found.items():
        names = sorted({o.env for o in table.options if o.env})
        lines.append(f"* `{command}`: " + ", ".join(f"`{n}`" for n in names))
    from kairos.slurm import COMMANDS as PROVIDED, DECLINED

    lines += ["", "## Commands", "",
              "Kairos provides " + ", ".join(f"`{c}`" for c in PROVIDED) + " (as `kairos "
              "<command>`, and as shims: `kairos shims DIR`, and first on every job's "
              "PATH).  Slurm 22.05's other user commands are shims too, which fail with "
              "exit status 1 saying why, so that a call never reaches another scheduler "
              "installed on the machine:", ""]
    lines += [f"* `{name}`: {_escape(why)}" for name, why in DECLINED.items()]
    return "\n".join(lines) + "\n"


def _spelling(long: str, found: dict[str, OptionTable]) -> str:
    shorts = sorted({t.by_long[long].short for t in found.values()
                     if long in t.by_long and t.by_long[long].short})
    return "`" + ", ".join([*(f"-{s}" for s in shorts), f"--{long}"]) + "`"


def _status_text(found: Cell | None) -> str:
    if found is None:
        return ABSENT
    return f"**{found.status}**" if found.status == REFUSED else found.status


def _notes(cells: dict[str, Cell]) -> str:
    """The reasons: once when every command that does not honour the option gives the
    same, else each command's."""
    reasons = {command: c.why for command, c in cells.items()
               if c.status != HONOURED and c.why}
    if len(set(reasons.values())) <= 1:
        return next(iter(reasons.values()), "")
    return "; ".join(f"{command}: {why}" for command, why in reasons.items())


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _srun_job_only() -> frozenset[str]:
    from kairos.slurm.srun_options import JOB_ONLY

    return JOB_ONLY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kairos.slurm.compatibility",
        description="The compatibility matrix of sbatch, srun and salloc, in Markdown.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", help="write it to PATH")
    group.add_argument("--check", metavar="PATH",
                       help="exit with 1 when PATH is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    elif args.check:
        path = Path(args.check)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is not up to date; run python -m kairos.slurm.compatibility "
                  f"--write {path}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
