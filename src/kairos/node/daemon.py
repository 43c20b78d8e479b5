"""``kairos node``: the daemon that runs a cluster's jobs on one host (Slurm's slurmd).

It is a thin shell around the same ``LocalAgent`` the one-machine controller uses, and
does four things:

1. **Registers** with the controller (name, CPUs, memory, GPUs, features, where it
   listens, the jobs it still runs) and then **heartbeats**; a controller that does not
   know it any more (a restart) gets a new registration.
2. **Carries out** the controller's commands (``kairos.node.wire``) with its agent,
   through ``kairos.node.link.LocalLink``, the very code the one-machine controller runs.
3. **Reports** what happened (launches, ends) as events, in order, again until the
   controller has taken them: an event is never lost to a network error.
4. **Forwards** the requests of the commands users and jobs run on this host (its Unix
   socket, ``<home>/kairos.sock``): the kernel says who the caller is, and the daemon
   vouches for that uid and gid to the controller (``X-Kairos-Caller``).

Every message to or from the controller is signed and checked with ``kairos.trust``.
After its own restart the daemon adopts the jobs its previous run left (their
supervisors outlive it), so a ``kill -9`` of a node daemon loses no job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kairos import __version__
from kairos.node.shims import on_path, write_shims
from kairos.node.wire import Deliveries, decode_command, encode

log = logging.getLogger("kairos.node")

#: How long to wait between tries when the controller does not answer (seconds).
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
#: Events sent in one request at most.
EVENT_BATCH = 500


@dataclass(slots=True)
class NodeOptions:
    """What ``kairos node`` was told (flags) and found (facts)."""

    name: str
    home: Path
    controller: tuple[str, int]
    addr: str
    port: int
    cpu_ids: list[int] | None = None  #: cores offered (None: all this process may use)
    cpus: int | None = None  #: at most this many of them
    mem_mib: int | None = None
    features: tuple[str, ...] = ()
    auth: str = "auto"
    key_file: Path | None = None
    munge_socket: str | None = None
    kill_wait: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)


class NodeDaemon:
    """One host's daemon: its agent, its link to the controller, its event queue."""

    def __init__(self, options: NodeOptions, facts, agent, trust) -> None:
        from kairos.node.link import LocalLink

        self.options = options
        self.facts = facts
        self.agent = agent
        self.link = LocalLink(options.name, agent)
        self.trust = trust
        self.socket_path = options.home / "kairos.sock"
        self.shims = write_shims(options.home / "bin")
        self.heartbeat_interval = 5.0
        self.registered = asyncio.Event()
        self._outbox: list[dict] = []
        #: which of the controller's numbered commands were taken (no Launch twice)
        self.deliveries = Deliveries()
        self._events_ready = asyncio.Event()
        self._client = None
        self._stopping = False

    # ------------------------------------------------------------------ the controller

    @property
    def controller_url(self) -> str:
        host, port = self.options.controller
        return f"http://{host}:{port}"

    async def call(self, method: str, path: str, payload: Any = None, *,
                   content: bytes | None = None, caller: tuple[int, int] | None = None):
        """A signed request to the controller (for a local user: ``caller``, their uid
        and gid, signed with it); the httpx response."""
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.controller_url, timeout=60.0)
        body = content if content is not None else (
            b"" if payload is None else json.dumps(payload).encode())
        headers = {"Content-Type": "application/json",
                   **self.trust.signer.sign(method, path, body, caller=caller)}
        try:
            return await self._client.request(method, path, content=body, headers=headers)
        except httpx.TransportError as e:  # connection refused, timed out, reset...
            raise ConnectionError(f"{self.controller_url}: {e or type(e).__name__}") from None

    async def register(self) -> None:
        """Register (again), retrying until the controller takes it."""
        self.registered.clear()
        for delay in _delays():
            try:
                response = await self.call("POST", "/api/v1/cluster/register",
                                           self.registration())
            except OSError as e:
                log.warning("controller %s unreachable (%s); retrying in %.1f s",
                            self.controller_url, e, delay)
            else:
                if response.status_code == 200:
                    reply = response.json()
                    self.heartbeat_interval = float(reply.get("heartbeat_interval", 5.0))
                    self.agent.kill_wait = float(reply.get("kill_wait", self.agent.kill_wait))
                    self.registered.set()
                    log.info("registered with %s as %s", self.controller_url, self.options.name)
                    return
                log.error("the controller refused the registration (HTTP %s): %s; retrying "
                          "in %.1f s", response.status_code, _detail(response), delay)
            await asyncio.sleep(delay)

    def registration(self) -> dict[str, Any]:
        """What this node says of itself when it registers, as it is now.  The jobs it
        runs include those whose end the controller has not taken yet: to a controller
        that restarted meanwhile, a job missing from the list is one it lost."""
        return {
            "name": self.options.name, "addr": self.options.addr, "port": self.options.port,
            "cpus": len(self.facts.cpus), "mem_mib": self.facts.mem_mib,
            "gpus": _gpu_counts(self.facts), "features": list(self.options.features),
            "boot_time": getattr(self.facts, "boot_time", 0.0), "version": __version__,
            "running": sorted(set(self.agent.running()) | self._ends_not_taken()),
            "held": self.agent.held(), "commands": self.deliveries.said(),
        }

    def _ends_not_taken(self) -> set[int]:
        """Batch jobs whose end (or failed launch) waits in the outbox."""
        return {int(event["job_id"]) for event in self._outbox
                if event.get("type") in ("Finished", "LaunchFailed")}

    async def heartbeats(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.heartbeat_interval)
            await self.registered.wait()
            try:
                response = await self.call("POST", "/api/v1/cluster/heartbeat",
                                           {"running": self.agent.running()})
            except OSError as e:
                log.warning("heartbeat to %s failed: %s", self.controller_url, e)
                continue
            if response.status_code == 409:  # the controller does not know us (any more)
                await self.register()
            elif response.status_code != 200:
                log.warning("heartbeat refused (HTTP %s): %s", response.status_code,
                            _detail(response))

    # ------------------------------------------------------------------ events

    def collect(self) -> None:
        """Move what the agent has to say into the outbox (in order)."""
        events = self.link.poll()
        if events:
            self._outbox.extend(encode(e) for e in events)
            self._events_ready.set()

    async def report(self) -> None:
        """Send the outbox to the controller, keeping every event until it is taken."""
        loop = asyncio.get_running_loop()
        fd = self.agent.wakeup_fd
        if fd >= 0:
            loop.add_reader(fd, self._events_ready.set)
        try:
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._events_ready.wait(), timeout=1.0)
                self._events_ready.clear()
                self.collect()
                await self.registered.wait()
                while self._outbox:
                    batch = self._outbox[:EVENT_BATCH]
                    try:
                        response = await self.call("POST", "/api/v1/cluster/events",
                                                   {"events": batch})
                    except OSError as e:
                        log.warning("could not report %d event(s): %s", len(batch), e)
                        await asyncio.sleep(1.0)
                        break
                    if response.status_code == 409:
                        await self.register()
                        continue
                    if response.status_code != 200:
                        log.error("events refused (HTTP %s): %s", response.status_code,
                                  _detail(response))
                        await asyncio.sleep(1.0)
                        break
                    del self._outbox[:len(batch)]
        finally:
            if fd >= 0:
                loop.remove_reader(fd)

    # ------------------------------------------------------------------ commands

    def carry_out(self, commands: list[dict], session: str | None = None,
                  first: int | None = None) -> int:
        """The controller's commands, in order, by the agent; their results go out as
        events.  A malformed command is a ValueError before any is carried out; those
        taken before (``first`` numbers the batch in ``session``:
        ``kairos.node.wire.Deliveries``) are not carried out again."""
        decoded = self.deliveries.fresh([decode_command(c) for c in commands], session, first)
        for command in decoded:
            spec = getattr(command, "spec", None)
            if spec is not None and hasattr(spec, "env"):
                # Commands run in the job reach the controller through this node.
                spec.env["KAIROS_SOCKET"] = str(self.socket_path)
                on_path(spec.env, self.shims)
            self.link.send(command)
        self.collect()
        return len(commands)

    # ------------------------------------------------------------------ life

    def adopt_left_behind(self) -> list[int]:
        """Watch again the jobs an earlier run of this daemon started (their
        supervisors outlive it); those that ended meanwhile are reported by poll."""
        adopted = []
        jobs_dir = self.options.home / "jobs"
        for launch_file in sorted(jobs_dir.glob("*/launch.json")):
            try:
                job_id = int(launch_file.parent.name)
                launch = json.loads(launch_file.read_text())
            except (OSError, ValueError):
                continue
            gpus = [int(g) for g in (launch.get("env") or {}).get("KAIROS_GPU_IDS", "").split(",") if g]
            self.agent.adopt(job_id, list(launch.get("cpu_ids") or []), gpus)
            adopted.append(job_id)
        held = self.agent.holds.reload()
        self.agent.adopt_steps()
        return sorted(set(adopted) | set(held))

    async def run(self) -> None:
        tasks = [asyncio.create_task(_forever(coro)) for coro in
                 (self.register, self.heartbeats, self.report)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            if self._client is not None:
                await self._client.aclose()

    def stop(self) -> None:
        self._stopping = True
        self._events_ready.set()


async def _forever(loop) -> None:
    """Run ``loop()``; a bug in it is logged and the loop started again, so that one
    unexpected error never leaves a node's jobs unreported."""
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("%s failed; starting it again in 1 s", loop.__name__)
            await asyncio.sleep(1.0)


def _gpu_counts(facts) -> dict[str, int]:
    counts: dict[str, int] = {}
    for gpu in facts.gpus:
        counts[gpu.type or "gpu"] = counts.get(gpu.type or "gpu", 0) + 1
    return counts


def _delays():
    """The waits between tries: growing, then steady."""
    yield from RETRY_DELAYS
    while True:
        yield RETRY_DELAYS[-1]


def _detail(response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]


def node_facts(options: NodeOptions):
    """This host's facts, cut to what the options offer."""
    from kairos.node.facts import NodeFacts, detect

    found = detect()
    cpu_ids = list(options.cpu_ids) if options.cpu_ids is not None else list(found.cpus)
    unknown = sorted(set(cpu_ids) - set(os.sched_getaffinity(0)))
    if unknown:
        raise ValueError(f"--cpu-ids names cores this process may not use: {unknown}; "
                         f"usable: {sorted(os.sched_getaffinity(0))}")
    if options.cpus is not None:
        if options.cpus > len(cpu_ids):
            raise ValueError(f"--cpus {options.cpus} is more than the {len(cpu_ids)} "
                             f"core(s) offered ({cpu_ids})")
        cpu_ids = cpu_ids[:options.cpus]
    mem = found.mem_mib if options.mem_mib is None else options.mem_mib
    return NodeFacts(name=options.name, cpus=cpu_ids, mem_mib=mem, gpus=found.gpus,
                     boot_time=found.boot_time, os=found.os)


# ---------------------------------------------------------------------- the process


def serve(options: NodeOptions) -> None:
    """Run the daemon until SIGTERM/SIGINT."""
    import logging as logging_

    import uvicorn

    from kairos.node.agent import LocalAgent
    from kairos.node.api import create_node_app
    from kairos.node.peercred import PeerCredentialsProtocol
    from kairos.trust import node_trust

    logging_.basicConfig(level=logging_.INFO,
                         format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging_.getLogger("httpx").setLevel(logging_.WARNING)  # not every request
    options.home.mkdir(mode=0o711, parents=True, exist_ok=True)
    facts = node_facts(options)
    agent = LocalAgent(options.home, facts, kill_wait=options.kill_wait)
    trust = node_trust(options.name, auth=options.auth, key_file=options.key_file,
                       munge_socket=options.munge_socket,
                       controller_addresses=_addresses(options.controller[0]))
    daemon = NodeDaemon(options, facts, agent, trust)
    adopted = daemon.adopt_left_behind()
    if adopted:
        log.info("adopted %d job(s) left by an earlier run: %s", len(adopted), adopted)
    sockets = [_listen_tcp(options.addr, options.port), _listen_unix(daemon.socket_path)]
    config = uvicorn.Config(create_node_app(daemon), http=PeerCredentialsProtocol,
                            lifespan="on", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3)
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(daemon.socket_path)


def _addresses(host: str) -> list[str]:
    import socket

    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except OSError:
        return [host]


def _listen_tcp(addr: str, port: int):
    import socket

    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((addr, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {addr}:{port} ({e.strerror}): is another node "
                      f"daemon running there, or is {addr} not this host's address? "
                      f"(--addr, --port)") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _listen_unix(path: Path):
    import socket

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o666)  # every local user may ask; each is known by peer credentials
    sock.listen(1024)
    sock.setblocking(False)
    return sock
