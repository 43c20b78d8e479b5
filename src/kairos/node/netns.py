"""Network namespaces for a test cluster on one machine: a bridge, one namespace per node.

A test cluster gives each node daemon a "host" of its own: a network namespace joined to
a bridge in the machine's namespace by a veth pair, with its own address, so that the
controller and its nodes talk real TCP to each other.  Everything here drives iproute2
(``ip``), which is what an administrator would type, and needs root.

Names are derived from the bridge, so that a test cluster's leftovers can be found
after a crash and two test clusters (a test run and a benchmark) can live side by side:
the bridge ``ktb<S>`` owns the subnet ``10.78.<S>.0/24``, its namespaces are
``ktb<S>-<node>``, their veths ``ktb<S>v<i>`` and their ``/etc/netns`` folders carry the
namespace names.  Claiming a subnet *is* creating its bridge (which fails when the name
exists), so two clusters starting at once never get the same one.  The bridge's alias
names its owner (the controller's home), so a cleanup only touches its own cluster.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The addresses test clusters take their /24 subnets from.
POOL = ipaddress.IPv4Network("10.78.0.0/16")
#: Every name this module creates starts with this.
PREFIX = "ktb"
#: Where ``ip netns exec`` finds the files it bind-mounts over ``/etc`` for a namespace.
NETNS_ETC = Path("/etc/netns")
#: A node's addresses start after the bridge's ``.1``: node i is ``.(HOST_OFFSET + i)``.
HOST_OFFSET = 10
MAX_NODES = 254 - HOST_OFFSET
OWNER_TAG = "kairos-testbed "


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message has its arguments and what it said."""


@dataclass(frozen=True)
class Bridge:
    """A claimed bridge and the /24 it owns (controller at ``.1``)."""

    name: str
    subnet: ipaddress.IPv4Network

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)

    def node_addr(self, index: int) -> str:
        """The address of node ``index`` (1-based)."""
        if not 1 <= index <= MAX_NODES:
            raise ValueError(f"node index {index} is outside 1..{MAX_NODES}: a /24 holds no more nodes")
        return str(self.subnet.network_address + HOST_OFFSET + index)

    def namespace(self, node_name: str) -> str:
        return f"{self.name}-{node_name}"

    def veth(self, index: int) -> str:
        return f"{self.name}v{index}"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip ARGS``; raise :class:`NetnsError` with its message when ``check`` and it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done


def probe() -> str | None:
    """None when network namespaces work here, else why not.

    Being root is not enough (containers often forbid namespaces or veths), so this
    really makes a throwaway namespace with a veth pair, runs a command in it with a
    host name of its own, and removes it.
    """
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "ip (iproute2) or unshare (util-linux) is not installed"
    name = f"{PREFIX}probe{os.getpid()}"
    veth = f"{PREFIX}p{os.getpid()}"[:15]
    try:
        ip("netns", "add", name)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        ip("netns", "exec", name, "unshare", "--uts", "true")
        return None
    except (NetnsError, OSError) as e:
        return f"cannot use network namespaces here ({e})"
    finally:
        ip("link", "del", veth, check=False)
        ip("netns", "del", name, check=False)


def owner_tag(owner: str) -> str:
    """The bridge alias that names the cluster's owner."""
    return OWNER_TAG + owner


def claim_bridge(owner: str) -> Bridge:
    """Create a bridge on a free /24 of :data:`POOL`, marked as ``owner``'s, and bring it up.

    A subnet is free when no address or route of this namespace overlaps it and no
    leftover namespace or ``/etc/netns`` folder of its bridge name exists.
    """
    taken = _networks_in_use()
    leftovers = {n.split("-", 1)[0] for n in _netns_names()} | {p.name.split("-", 1)[0] for p in _etc_entries()}
    for subnet in list(POOL.subnets(new_prefix=24))[1:-1]:
        bridge = Bridge(f"{PREFIX}{subnet.network_address.packed[2]}", subnet)
        if bridge.name in leftovers or any(subnet.overlaps(net) for net in taken):
            continue
        added = ip("link", "add", bridge.name, "type", "bridge", check=False)
        if "File exists" in added.stderr:
            continue  # another cluster took it since we looked
        if added.returncode != 0:
            raise NetnsError(f"ip link add {bridge.name} type bridge: {added.stderr.strip()}")
        try:
            ip("link", "set", bridge.name, "alias", owner_tag(owner))
            _quiet_bridge(bridge.name)
            ip("addr", "add", f"{bridge.gateway}/24", "dev", bridge.name)
            ip("link", "set", bridge.name, "up")
        except BaseException:
            ip("link", "del", bridge.name, check=False)
            raise
        return bridge
    raise NetnsError(f"no free /24 left in {POOL} for a test cluster bridge")


def _quiet_bridge(name: str) -> None:
    """Keep the host's firewall out of traffic between the nodes (br_netfilter, when
    loaded, would pass bridged frames through a FORWARD chain that may drop them)."""
    ip("link", "set", name, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables", "0",
       "nf_call_arptables", "0", check=False)


def add_node(bridge: Bridge, node_name: str, index: int) -> str:
    """Make node ``index``'s namespace, wired to ``bridge`` with its address; its name."""
    ns = bridge.namespace(node_name)
    veth = bridge.veth(index)
    ip("netns", "add", ns)
    ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    ip("link", "set", veth, "master", bridge.name, "up")
    ip("-n", ns, "addr", "add", f"{bridge.node_addr(index)}/24", "dev", "eth0")
    ip("-n", ns, "link", "set", "eth0", "up")
    ip("-n", ns, "link", "set", "lo", "up")
    ip("-n", ns, "route", "add", "default", "via", bridge.gateway)
    return ns


#: A node's resolv.conf: the cluster's names are in its hosts file, and the machine's
#: name server is out of a node's reach, so lookups of other names (IPv6 ones included,
#: which ``getent hosts`` tries first) must fail at once rather than after timeouts.
NO_DNS = ("# Names of the test cluster are in /etc/hosts; there is no name server in a node.\n"
          "nameserver 127.0.0.1\n")


def write_etc(namespace: str, hosts: str) -> Path:
    """``/etc/netns/<namespace>/``: the ``hosts`` and ``resolv.conf`` that ``ip netns
    exec`` shows in /etc; the folder."""
    folder = NETNS_ETC / namespace
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("hosts", hosts), ("resolv.conf", NO_DNS)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o644)
    return folder


def hosts_text(names: Mapping[str, str], base: str) -> str:
    """An /etc/hosts: ``base`` (the machine's own file) without the names of ``names``,
    then one line per address of ``names`` (``{name: address}``)."""
    ours = set(names)
    kept = []
    for line in base.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and ours & set(words[1:]):
            rest = [w for w in words[1:] if w not in ours]
            if not rest:
                continue
            line = " ".join([words[0], *rest])
        kept.append(line)
    by_addr: dict[str, list[str]] = {}
    for name, addr in names.items():
        by_addr.setdefault(addr, []).append(name)
    block = [f"{addr}\t{' '.join(aliases)}" for addr, aliases in by_addr.items()]
    return "\n".join([*kept, "# the test cluster", *block]) + "\n"


def pids_in(namespace: str) -> list[int]:
    """The processes living in ``namespace`` (none when it is gone)."""
    done = ip("netns", "pids", namespace, check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()] if done.returncode == 0 else []


@dataclass(frozen=True)
class Leftovers:
    """What exists of one bridge's cluster: its namespaces, veths and /etc/netns folders."""

    bridge: str | None
    namespaces: tuple[str, ...]
    veths: tuple[str, ...]
    etc: tuple[Path, ...]

    def __bool__(self) -> bool:
        return bool(self.bridge or self.namespaces or self.veths or self.etc)


def owned_bridges(owner: str) -> list[str]:
    """The bridges whose alias names ``owner``."""
    return [link["ifname"] for link in _links() if link.get("ifalias") == owner_tag(owner)
            and link["ifname"].startswith(PREFIX)]


def leftovers(bridge: str) -> Leftovers:
    """Everything that carries ``bridge``'s name."""
    links = {link["ifname"] for link in _links()}
    return Leftovers(
        bridge=bridge if bridge in links else None,
        namespaces=tuple(n for n in _netns_names() if n.startswith(bridge + "-")),
        veths=tuple(sorted(n for n in links if n.startswith(bridge + "v") and n[len(bridge) + 1:].isdigit())),
        etc=tuple(p for p in _etc_entries() if p.name.startswith(bridge + "-")),
    )


def remove(found: Leftovers) -> None:
    """Delete what :func:`leftovers` found; what is already gone is no error.

    The veths go first: a namespace's own end would otherwise outlive ``ip netns del``
    until the kernel gets round to destroying the namespace.
    """
    for veth in found.veths:
        ip("link", "del", veth, check=False)
    for ns in found.namespaces:
        ip("netns", "del", ns, check=False)
    for folder in found.etc:
        shutil.rmtree(folder, ignore_errors=True)
    if found.bridge:
        ip("link", "del", found.bridge, check=False)


def _links() -> list[dict]:
    return json.loads(ip("-j", "link", "show").stdout or "[]")


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    nets = []
    for link in json.loads(ip("-j", "addr", "show").stdout or "[]"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                nets.append(ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    for route in json.loads(ip("-j", "route", "show").stdout or "[]"):
        dst = route.get("dst", "default")
        if dst != "default":
            nets.append(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False))
    return nets


def _netns_names() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()]


def _etc_entries() -> list[Path]:
    return sorted(p for p in NETNS_ETC.glob(PREFIX + "*")) if NETNS_ETC.is_dir() else []


def remove_empty_etc() -> None:
    """Remove ``/etc/netns`` itself when nothing is left in it (it did not exist before us
    on most machines; one with other namespaces' files keeps it)."""
    try:
        NETNS_ETC.rmdir()
    except OSError:
        pass
