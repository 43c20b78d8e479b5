"""``kairos node`` (the daemon of one cluster host) and ``kairos keys`` (its trust).

A cluster is a controller (``kairos up`` with ``[cluster]`` in config.toml) and one
``kairos node`` per host.  Hosts prove who they are with MUNGE when munged runs (the
daemon Slurm uses), else with keys: ``kairos keys init`` writes the cluster key into the
controller's home, ``kairos keys node NAME FILE`` derives the key a node holds; copy it
to the node (mode 0400) and start the daemon with ``--key-file FILE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

keys_app = typer.Typer(add_completion=False, help="The keys hosts sign their messages with "
                                                   "when MUNGE is not used.")


def node(
    controller: Annotated[str, typer.Option(help="The controller's HOST:PORT (its cluster listen address).")],
    name: Annotated[str, typer.Option(help="This node's name (default: the short host name).")] = "",
    home: Annotated[Path, typer.Option(help="Where this daemon keeps its jobs' files.")] = Path("/var/lib/kairos-node"),
    addr: Annotated[str, typer.Option(help="The address the controller reaches this node at.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port this daemon listens on.")] = 6821,
    cpus: Annotated[int | None, typer.Option(help="Offer at most this many cores.")] = None,
    cpu_ids: Annotated[str | None, typer.Option("--cpu-ids", help="Offer these cores (0,1,4-7).")] = None,
    mem_mib: Annotated[int | None, typer.Option("--mem-mib", help="Offer this much memory (MiB).")] = None,
    features: Annotated[str, typer.Option(help="Features of this node, comma-separated.")] = "",
    auth: Annotated[str, typer.Option(help="auto, munge or key.")] = "auto",
    key_file: Annotated[Path | None, typer.Option("--key-file", help="This node's key (auth = key).")] = None,
    munge_socket: Annotated[str | None, typer.Option("--munge-socket", help="munged's socket.")] = None,
    emulate: Annotated[int, typer.Option(
        help="Emulate this many nodes in this one process (for tests and benchmarks): "
             "their jobs run no processes, each lasting KAIROS_EMULATE_RUNTIME seconds "
             "(or N for a `sleep N` script; else until its time limit); they carry the "
             "feature 'emulated'.  Names: --names, else --name (default 'emu') and a "
             "number; --cpus, --mem-mib, --gpus, --features apply to each; --key-file "
             "is the cluster key (each node's key derives from it).")] = 0,
    names: Annotated[str, typer.Option(help="Emulated nodes' names, a hostlist "
                                            "(emu[0001-1000]); with --emulate.")] = "",
    gpus: Annotated[str, typer.Option(help="Each emulated node's GPUs, TYPE:COUNT,... "
                                           "(a100:4); with --emulate.")] = "",
) -> None:
    """Run this host's node daemon: it registers with the controller and runs its jobs."""
    from kairos.node.daemon import NodeOptions, serve
    from kairos.node.facts import short_hostname
    from kairos.server.config_schema import parse_address

    host, controller_port = parse_address(controller)
    if emulate or names or gpus:
        _emulate(emulate, names, name, (host, controller_port), addr, port, cpus, cpu_ids,
                 mem_mib, gpus, features, auth, key_file, munge_socket)
        return
    options = NodeOptions(
        name=name or short_hostname(), home=home.resolve(), controller=(host, controller_port),
        addr=addr, port=port, cpu_ids=_cpu_list(cpu_ids) if cpu_ids else None, cpus=cpus,
        mem_mib=mem_mib, features=tuple(f for f in features.split(",") if f), auth=auth,
        key_file=key_file, munge_socket=munge_socket)
    serve(options)


def _emulate(count, names, prefix, controller, addr, port, cpus, cpu_ids, mem_mib, gpus,
             features, auth, key_file, munge_socket) -> None:
    """``kairos node --emulate``: see ``kairos.node.emulator``."""
    import os

    import psutil

    from kairos.node.emulator import EmulatorOptions, node_names, serve
    from kairos.slurm.hostlist import expand

    if not count:
        raise ValueError("--names and --gpus describe emulated nodes: add --emulate COUNT")
    if cpu_ids:
        raise ValueError("--cpu-ids names this host's cores; emulated nodes take --cpus")
    listed = expand(names) if names else node_names(count, prefix or "emu")
    if len(listed) != count:
        raise ValueError(f"--names {names!r} names {len(listed)} node(s), --emulate {count}: "
                         f"make them agree")
    serve(EmulatorOptions(
        names=listed, controller=controller, addr=addr, port=port,
        cpus=cpus if cpus is not None else (os.cpu_count() or 1),
        mem_mib=mem_mib if mem_mib is not None else psutil.virtual_memory().total // 2**20,
        gpus=_gpu_counts(gpus), features=tuple(f for f in features.split(",") if f),
        auth=auth, key_file=key_file, munge_socket=munge_socket))


def _gpu_counts(text: str) -> dict[str, int]:
    """``a100:4,v100:2`` as {type: count}."""
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, count = part.partition(":")
        if not kind or not count.isdigit():
            raise ValueError(f"--gpus {text!r}: use TYPE:COUNT,... such as a100:4")
        counts[kind] = counts.get(kind, 0) + int(count)
    return counts


def _cpu_list(text: str) -> list[int]:
    """``0,1,4-7`` as core ids."""
    ids: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"--cpu-ids {text!r}: use core ids such as 0,1,4-7")
        ids.extend(range(int(first), int(last or first) + 1))
    return ids


@keys_app.command("init")
def keys_init() -> None:
    """Create the cluster key in the controller's home ([cluster] key_file)."""
    from kairos.server.config import load_settings
    from kairos.trust import create_cluster_key

    settings = load_settings()
    path = _key_path(settings)
    create_cluster_key(path)
    typer.echo(f"kairos: wrote the cluster key to {path} (mode 0400); derive each node's "
               f"with `kairos keys node NAME FILE`")


@keys_app.command("node")
def keys_node(
    name: Annotated[str, typer.Argument(help="The node's name.")],
    out: Annotated[Path, typer.Argument(help="Where to write its key (mode 0400).")],
) -> None:
    """Derive node NAME's key from the cluster key; give it to that node only."""
    from kairos.server.config import load_settings
    from kairos.trust import derive_node_key, read_key, write_node_key

    settings = load_settings()
    write_node_key(out, derive_node_key(read_key(_key_path(settings)), name))
    typer.echo(f"kairos: wrote node {name}'s key to {out}; copy it to {name} and start its "
               f"daemon with --key-file")


def _key_path(settings) -> Path:
    relative = Path(settings.cluster.key_file if settings.cluster else "cluster.key")
    return relative if relative.is_absolute() else settings.home / relative
