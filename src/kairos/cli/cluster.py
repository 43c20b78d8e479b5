"""``kairos up``, ``kairos down``, ``kairos status``, ``kairos shims``: the local controller.

``kairos sbatch`` starts a controller by itself when none runs; these commands manage
it explicitly.  Stopping a controller leaves running jobs to their supervisors; the
next ``kairos up`` adopts them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


def _settings():
    from kairos.server.config import load_settings

    return load_settings()


@app.command("up")
def up(
    foreground: Annotated[bool, typer.Option(
        "--foreground", "-f", help="Run in this terminal instead of in the background.")] = False,
    nodes: Annotated[int, typer.Option(
        "--nodes", "-N", help="Start a test cluster: the controller and this many node daemons "
                              "on this machine, each its own host (network namespaces when "
                              "root).")] = 0,
    cpus_per_node: Annotated[int | None, typer.Option(
        "--cpus-per-node", help="CPUs each test node offers (default: a share).")] = None,
) -> None:
    """Start the local controller (SQLite under $KAIROS_HOME, this machine as the node),
    or with --nodes N a test cluster of N nodes."""
    from kairos.server import daemon

    settings = _settings()
    if nodes:
        _up_test_cluster(settings, nodes, cpus_per_node)
        return
    pid = daemon.running_pid(settings)
    if pid is not None:
        typer.echo(f"kairos: controller already running (pid {pid}) at {settings.socket_path}")
        return
    if foreground:
        daemon.serve(settings)
        return
    try:
        pid = daemon.start_background(settings)
    except RuntimeError as e:
        raise ValueError(str(e)) from None
    typer.echo(f"kairos: controller started (pid {pid}); socket {settings.socket_path}, "
               f"log {settings.log_path}")


def _up_test_cluster(settings, count: int, cpus_per_node: int | None) -> None:
    from kairos.server import daemon, testcluster

    if daemon.running_pid(settings) is not None:
        raise ValueError(f"a controller already runs for {settings.home}; stop it with "
                         f"`kairos down` before starting a test cluster there")
    if count < 1:
        raise ValueError("--nodes: give 1 or more nodes")
    try:
        info = testcluster.start(settings.home, count, cpus_per_node=cpus_per_node)
    except (RuntimeError, OSError) as e:
        raise ValueError(f"the test cluster did not start: {e}") from None
    names = ", ".join(f"{name} ({addr}, {cpus} CPU{'s' if cpus != 1 else ''})"
                      for name, addr, cpus in info["nodes"])
    typer.echo(f"kairos: test cluster up: controller {info['controller']} (pid "
               f"{info['controller_pid']}), nodes {names}; network: {info['network']}; "
               f"auth: {info['auth']}.  `kairos down` stops it all.")


@app.command("down")
def down() -> None:
    """Stop the local controller (and a test cluster's nodes).  On one machine, running
    jobs keep running; a test cluster's jobs end with its nodes."""
    from kairos.server import daemon, testcluster

    settings = _settings()
    if testcluster.is_up(settings.home):
        testcluster.stop(settings.home)
        typer.echo("kairos: test cluster stopped (controller, nodes and their jobs)")
        return
    pid = daemon.stop(settings)
    if pid is None:
        typer.echo("kairos: no controller running")
    else:
        typer.echo(f"kairos: controller stopped (pid {pid})")


@app.command("status")
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is a controller running, and what is it doing."""
    from kairos.cli.client import ApiError, answers, connect, socket_path

    path = socket_path()
    if not answers(path):
        typer.echo(f"kairos: no controller at {path} (start one with `kairos up`)")
        raise typer.Exit(1)
    try:
        info = connect(autostart=False).status()
    except ApiError as e:
        raise ValueError(e.message) from None
    if json_out:
        import json

        typer.echo(json.dumps(info, indent=2))
        return
    jobs = ", ".join(f"{n} {s.lower()}" for s, n in sorted(info["jobs"].items())) or "no jobs"
    typer.echo(f"controller  pid {info['pid']} (user {info['user']}), up {info['uptime']:.0f} s\n"
               f"cluster     {info['cluster']}\n"
               f"database    {info['database']}\n"
               f"home        {info['home']}\n"
               f"jobs        {jobs}\n"
               f"passes      {info['passes']} (last {info['last_pass_seconds'] * 1000:.1f} ms)")


@app.command("shims")
def shims(
    directory: Annotated[Path, typer.Argument(help="Where to write sbatch, squeue, ...")],
) -> None:
    """Write `sbatch`, `squeue`, ... commands that run Kairos; put DIRECTORY on PATH."""
    from kairos.cli.slurm import SLURM_COMMANDS
    from kairos.node.shims import write_shims
    from kairos.slurm import DECLINED

    write_shims(directory)
    typer.echo(f"kairos: wrote {', '.join(SLURM_COMMANDS)} to {directory} (and "
               f"{', '.join(DECLINED)}, which say that Kairos does not provide them); "
               f"add it to PATH: export PATH={directory}:$PATH")
