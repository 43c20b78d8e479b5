"""The ``kairos`` command: ``kairos simulate``, ``kairos traces list|fetch``.

Only Typer is imported here; each command imports what it needs (NumPy, Rich,
``kairos.sim``) when it runs, so start-up stays fast.

Commands report failures by raising: a ``ValueError`` (bad input, an ``SwfError``) prints
``kairos: error: <message>`` on stderr and exits with status 2, an ``OSError`` (a file or
the network) does the same with status 1.  Warnings (an ``SwfWarning``, say) print as
``kairos: warning: <message>``.  No traceback for any of these; other exceptions are
bugs and keep theirs.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from kairos import __version__
from kairos.cli import cluster, hosts, predict, simulate, traces, tune, why


def error(message: str) -> None:
    typer.echo(f"kairos: error: {message}", err=True)


def _show_warning(message: Any, category: type, filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    typer.echo(f"kairos: warning: {message}", err=True)


class KairosGroup(TyperGroup):
    """The top-level command group: runs a command with warnings shown as one line each
    and expected failures turned into one error line and an exit status."""

    def invoke(self, ctx: Any) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except BrokenPipeError:
                raise  # the reader went away (``| head``); Typer exits quietly
            except ValueError as e:
                error(str(e))
                raise typer.Exit(2) from None
            except OSError as e:
                error(str(e))
                raise typer.Exit(1) from None


app = typer.Typer(
    name="kairos",
    cls=KairosGroup,
    help="Kairos: a workload manager for clusters where HPC and AI meet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kairos {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Kairos: a workload manager for clusters where HPC and AI meet.

    Replay Standard Workload Format traces through the scheduling core with
    `kairos simulate`; get traces with `kairos traces`.
    """


app.command("simulate")(simulate.simulate)
app.add_typer(traces.app, name="traces")
app.add_typer(predict.app, name="predict")
app.command("up")(cluster.up)
app.command("down")(cluster.down)
app.command("status")(cluster.status)
app.command("why")(why.why)
app.command("tune")(tune.tune)
app.command("shims")(cluster.shims)
app.command("node")(hosts.node)
app.add_typer(hosts.keys_app, name="keys")
