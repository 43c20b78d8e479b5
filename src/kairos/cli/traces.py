"""``kairos traces``: the catalogue of known SWF traces, and downloading them.

``list`` shows the catalogue of ``kairos.sim.archive`` and which traces are already in
$KAIROS_TRACES; ``fetch`` downloads one (into $KAIROS_TRACES, else ./traces).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(
    help="The catalogue of known SWF traces, and downloading them.",
    no_args_is_help=True,
)


def default_dest() -> Path:
    """Where traces go: $KAIROS_TRACES if set, else ./traces."""
    folder = os.environ.get("KAIROS_TRACES")
    return Path(folder) if folder else Path("traces")


@app.command("list")
def list_traces() -> None:
    """List the known traces and which of them are present in $KAIROS_TRACES."""
    rows, others = catalogue_rows()
    if sys.stdout.isatty():
        _print_rich(rows, others)
    else:
        _print_plain(rows, others)


@app.command()
def fetch(
    name: Annotated[str, typer.Argument(
        help="Trace name as `kairos traces list` shows it (kth-sp2), or its file stem "
             "(KTH-SP2-1996-2.1-cln).")],
    dest: Annotated[Optional[Path], typer.Option(
        "--dest", show_default=False,
        help="Folder to save into. Default: $KAIROS_TRACES if set, else ./traces.")] = None,
    base_url: Annotated[Optional[str], typer.Option(
        "--base-url", show_default=False,
        help="Download from this mirror instead of the Parallel Workloads Archive.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Download again even if the file is already there.")] = False,
) -> None:
    """Download one trace of the catalogue; print where it is."""
    from kairos.sim import archive

    trace = archive.lookup(name)  # ValueError for an unknown name
    dest = dest if dest is not None else default_dest()
    target = dest.expanduser() / trace.file
    if target.exists() and not force:
        typer.echo(f"kairos: {target} is already there (--force downloads it again)",
                   err=True)
    options: dict[str, Any] = {"force": force}
    if base_url is not None:
        options["base_url"] = base_url
    try:
        if sys.stderr.isatty():
            path = _fetch_with_bar(archive, trace.short, dest, options)
        else:
            path = archive.fetch(trace.short, dest, **options)
    except archive.FetchError as e:
        typer.echo(f"kairos: error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(path))


# --- catalogue -------------------------------------------------------------------------


def catalogue_rows() -> tuple[list[dict[str, Any]], list[Path]]:
    """One dict per catalogue entry (name, file, procs, jobs, path when present in
    $KAIROS_TRACES), and the other SWF files found there."""
    from kairos.sim import archive
    from kairos.sim.workload import find_traces

    present = {p.name.lower(): p for p in find_traces()}
    rows = []
    for t in archive.CATALOGUE:
        rows.append({"name": t.short, "file": t.file, "procs": t.procs, "jobs": t.jobs,
                     "path": present.pop(t.file.lower(), None)})
    return rows, sorted(present.values())


def _print_plain(rows: list[dict[str, Any]], others: list[Path]) -> None:
    """Stable columns: name, file, procs, jobs, path (``-`` when unknown or absent)."""
    table = [["name", "file", "procs", "jobs", "path"]]
    for r in rows:
        table.append([r["name"], r["file"], _or_dash(r["procs"]), _or_dash(r["jobs"]),
                      _or_dash(r["path"])])
    table += [["-", p.name, "-", "-", str(p)] for p in others]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _print_rich(rows: list[dict[str, Any]], others: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    folder = os.environ.get("KAIROS_TRACES")
    table = Table(title="Parallel Workloads Archive traces", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("file")
    table.add_column("procs", justify="right")
    table.add_column("jobs", justify="right")
    table.add_column("in $KAIROS_TRACES" if folder else "present")
    for r in rows:
        table.add_row(r["name"], r["file"], _count(r["procs"]), _count(r["jobs"]),
                      "[green]yes[/]" if r["path"] else "")
    for p in others:
        table.add_row("[dim]-[/]", p.name, "", "", "[green]yes[/] [dim](not in catalogue)[/]")
    console = Console()
    console.print(table)
    if not folder:
        console.print("[dim]Set KAIROS_TRACES to a folder of traces to see which are "
                      "present; `kairos traces fetch NAME` downloads one.[/]")


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _fetch_with_bar(archive: Any, name: str, dest: Path, options: dict[str, Any]) -> Path:
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TransferSpeedColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"fetch {name}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return archive.fetch(name, dest, progress=progress, **options)
