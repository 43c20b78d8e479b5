"""``kairos node --emulate COUNT``: one process that is COUNT nodes whose jobs run no
processes (Slurm's multiple-slurmd / front-end modes, Flux's test instances), so that
the controller, its API and its database can be driven at cluster size on one machine.

It speaks the node daemon's protocol for every node it stands for, each node signing as
itself (``kairos.trust``: with a shared key the emulator holds the cluster key and
derives each node's; with MUNGE any process of the host can sign), but in bundles
(``kairos.trust.bundle``): registrations, heartbeats and events go to the controller's
``/api/v1/cluster/bundle`` many nodes per request, and the controller sends its commands
to ``/node/v1/bundle`` (it does so for nodes that registered with ``bundles``).  Each
node still has its own ``/node/v1/<name>/commands``.

What the jobs do is ``kairos.node.emulation`` (runtime from ``KAIROS_EMULATE_RUNTIME``,
or a ``sleep N`` script, ended with exit code 0).  Every node carries the feature
``emulated``.  Emulated nodes never change what a real ``kairos node`` does: this is a
different process, which real nodes never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kairos import __version__
from kairos.model.json_text import dumps
from kairos.node.emulation import EMULATED_FEATURE, EmulatedNode, Emulation
from kairos.node.wire import Deliveries, decode_command, encode

log = logging.getLogger("kairos.emulator")

#: Commands and events paths, as a single node's daemon has them.
REGISTER, HEARTBEAT, EVENTS = ("/api/v1/cluster/register", "/api/v1/cluster/heartbeat",
                               "/api/v1/cluster/events")
BUNDLE = "/api/v1/cluster/bundle"
#: Events of one node in one part at most (as a node daemon's request).
EVENT_BATCH = 500
#: Parts per bundle this emulator sends (the receiver takes up to MAX_PARTS).
PARTS_PER_BUNDLE = 2000


@dataclass(slots=True)
class EmulatorOptions:
    """What ``kairos node --emulate`` was told."""

    names: list[str]
    controller: tuple[str, int]
    addr: str
    port: int
    cpus: int
    mem_mib: int
    gpus: dict[str, int]
    features: tuple[str, ...] = ()
    auth: str = "auto"
    key_file: Path | None = None  #: the cluster key (key mode): every node's derives from it
    munge_socket: str | None = None


def node_names(count: int, prefix: str) -> list[str]:
    """``count`` names: ``prefix`` and a number, zero-padded to the widest (emu001...)."""
    if count < 1:
        raise ValueError(f"--emulate {count}: give 1 or more nodes")
    width = len(str(count))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


class EmulatorTrust:
    """Each emulated node's signer and verifier, made on first use."""

    def __init__(self, options: EmulatorOptions, controller_addresses: list[str]) -> None:
        from kairos.trust.factory import choose_mode

        self.options = options
        self.mode = choose_mode(options.auth, key_file=options.key_file,
                                munge_socket=options.munge_socket)
        self._addresses = controller_addresses
        self._cluster_key = None
        if self.mode == "key":
            from kairos.trust import read_key

            self._cluster_key = read_key(options.key_file)
        self._trusts: dict[str, Any] = {}

    def of(self, name: str):
        trust = self._trusts.get(name)
        if trust is None:
            trust = self._trusts[name] = self._make(name)
        return trust

    def _make(self, name: str):
        from kairos.trust import AuthError, KeySigner, KeyVerifier, derive_node_key, node_trust
        from kairos.trust.factory import NodeTrust
        from kairos.trust.request import CONTROLLER

        if self.mode == "munge":
            return node_trust(name, auth="munge", munge_socket=self.options.munge_socket,
                              controller_addresses=self._addresses)
        key = derive_node_key(self._cluster_key, name)

        def key_of(sender: str) -> bytes:
            if sender != CONTROLLER:
                raise AuthError(f"request signed as {sender!r}: a node takes requests from "
                                "the controller only")
            return key

        return NodeTrust(name, "key", KeySigner(name, key), KeyVerifier(key_of))


class Emulator:
    """The emulated nodes' daemon: registers them, heartbeats, carries out commands,
    reports events; everything in bundles."""

    def __init__(self, options: EmulatorOptions, trust: EmulatorTrust, *,
                 clock=time.time) -> None:
        self.options = options
        self.trust = trust
        self.clock = clock
        features = tuple(dict.fromkeys((*options.features, EMULATED_FEATURE)))
        self.features = list(features)
        self.emulation = Emulation([EmulatedNode(n, options.cpus, options.mem_mib,
                                                 dict(options.gpus)) for n in options.names])
        self.names = list(options.names)
        self.registered: set[str] = set()
        self.heartbeat_interval = 5.0
        self._outbox: dict[str, list[dict]] = {}  #: node -> its events, in order
        #: node -> which of the controller's numbered commands it took
        self.deliveries: dict[str, Deliveries] = {}
        self._events_ready = asyncio.Event()
        self._ends_changed = asyncio.Event()
        self._client = None
        self._stopping = False
        self.boot_time = clock()

    # ------------------------------------------------------------------ the controller

    async def post_bundle(self, parts: list[dict]) -> list[dict] | None:
        """Post ``parts``; the controller's answers, one per part (None: no answer)."""
        import httpx

        if self._client is None:
            host, port = self.options.controller
            self._client = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=120.0)
        try:
            response = await self._client.post(BUNDLE, content=dumps({"parts": parts}),
                                               headers={"Content-Type": "application/json"})
        except httpx.TransportError as e:
            log.warning("controller unreachable (%s)", e or type(e).__name__)
            return None
        if response.status_code != 200:
            log.error("the controller refused a bundle (HTTP %s): %s", response.status_code,
                      response.text[:300])
            return None
        answers = orjson.loads(response.content).get("answers")
        return answers if isinstance(answers, list) and len(answers) == len(parts) else None

    def part(self, name: str, path: str, payload: Any) -> dict:
        from kairos.trust.bundle import sign_part

        return sign_part(self.trust.of(name).signer, path, dumps(payload))

    def registration(self, name: str) -> dict:
        return {
            "name": name, "addr": self.options.addr, "port": self.options.port,
            "cpus": self.options.cpus, "mem_mib": self.options.mem_mib,
            "gpus": dict(self.options.gpus), "features": self.features,
            "boot_time": self.boot_time, "version": __version__,
            "running": sorted(set(self.emulation.running(name)) | self._ends_not_taken(name)),
            "held": self.emulation.held(name), "bundles": True,
            "commands": self.deliveries.setdefault(name, Deliveries()).said(),
        }

    def _ends_not_taken(self, name: str) -> set[int]:
        return {int(e["job_id"]) for e in self._outbox.get(name, ())
                if e.get("type") in ("Finished", "LaunchFailed")}

    async def register(self, names: list[str]) -> None:
        """Register ``names`` (again), retrying those not taken until they are."""
        waiting = list(names)
        delay = 0.5
        while waiting and not self._stopping:
            self.registered.difference_update(waiting)
            refused = []
            for chunk in _chunks(waiting, PARTS_PER_BUNDLE):
                answers = await self.post_bundle(
                    [self.part(n, REGISTER, self.registration(n)) for n in chunk])
                if answers is None:
                    refused.extend(chunk)
                    continue
                for name, answer in zip(chunk, answers):
                    if answer.get("status") == 200:
                        self.registered.add(name)
                        self.heartbeat_interval = float(
                            answer["body"].get("heartbeat_interval", self.heartbeat_interval))
                    else:
                        refused.append(name)
                        log.error("the controller refused node %s (HTTP %s): %s", name,
                                  answer.get("status"), answer.get("body"))
            if refused:
                log.warning("%d node(s) not registered; retrying in %.1f s", len(refused), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            waiting = refused
        if self.registered:
            self._events_ready.set()
        log.info("%d emulated node(s) registered with %s:%s", len(self.registered),
                 *self.options.controller)

    async def heartbeats(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.heartbeat_interval)
            names = sorted(self.registered)
            again = []
            for chunk in _chunks(names, PARTS_PER_BUNDLE):
                answers = await self.post_bundle(
                    [self.part(n, HEARTBEAT, {"running": self.emulation.running(n)})
                     for n in chunk])
                for name, answer in zip(chunk, answers or ()):
                    if answer.get("status") == 409:
                        again.append(name)
            if again:
                await self.register(again)

    # ------------------------------------------------------------------ events

    def add_events(self, name: str, events: list) -> None:
        if events:
            self._outbox.setdefault(name, []).extend(encode(e) for e in events)
            self._events_ready.set()

    async def ends(self) -> None:
        """Move the jobs' ends into the outbox when they are due."""
        while not self._stopping:
            now = self.clock()
            for name, event in self.emulation.due(now):
                self.add_events(name, [event])
            wait = min(self.emulation.next_end() - self.clock(), 1.0)
            self._ends_changed.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ends_changed.wait(), timeout=wait)

    async def report(self) -> None:
        """Send the outbox, keeping every event until the controller has taken it."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._events_ready.wait(), timeout=1.0)
            self._events_ready.clear()
            names = [n for n in self._outbox if n in self.registered]
            again, refused = [], []
            for chunk in _chunks(names, PARTS_PER_BUNDLE):
                batches = {n: self._outbox[n][:EVENT_BATCH] for n in chunk}
                answers = await self.post_bundle(
                    [self.part(n, EVENTS, {"events": batches[n]}) for n in chunk])
                if answers is None:
                    await asyncio.sleep(1.0)
                    self._events_ready.set()
                    break
                for name, answer in zip(chunk, answers):
                    if answer.get("status") == 200:
                        left = self._outbox[name][len(batches[name]):]
                        if left:
                            self._outbox[name] = left
                            self._events_ready.set()
                        else:
                            del self._outbox[name]
                    elif answer.get("status") == 409:
                        again.append(name)
                    else:  # kept, and sent again (signed anew) at the next try
                        refused.append((name, answer))
            if refused:
                name, answer = refused[0]
                log.error("the events of %d node(s) were refused, e.g. %s (HTTP %s): %s; "
                          "trying again", len(refused), name, answer.get("status"),
                          answer.get("body"))
                await asyncio.sleep(1.0)
            if again:
                await self.register(again)

    # ------------------------------------------------------------------ commands

    def carry_out(self, name: str, commands: list[dict], session: str | None = None,
                  first: int | None = None) -> int:
        """Node ``name``'s commands, in order; a malformed one is a ValueError before
        any is carried out; those it took before are not carried out again
        (``kairos.node.wire.Deliveries``)."""
        deliveries = self.deliveries.setdefault(name, Deliveries())
        decoded = deliveries.fresh([decode_command(c) for c in commands], session, first)
        now = self.clock()
        for command in decoded:
            self.add_events(name, self.emulation.carry_out(name, command, now))
        self._ends_changed.set()
        return len(commands)

    # ------------------------------------------------------------------ life

    async def run(self) -> None:
        await self.register(self.names)
        tasks = [asyncio.create_task(_forever(loop)) for loop in
                 (self.heartbeats, self.report, self.ends)]
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
        self._ends_changed.set()


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def _forever(loop) -> None:
    """Run ``loop()``; a bug in it is logged and the loop started again."""
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bug must not silence every node
            log.exception("%s failed; starting it again in 1 s", loop.__name__)
            await asyncio.sleep(1.0)


def serve(options: EmulatorOptions) -> None:
    """Run the emulated nodes until SIGTERM/SIGINT."""
    import uvicorn

    from kairos.node.daemon import _addresses, _listen_tcp
    from kairos.node.emulator_api import create_emulator_app

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if options.cpus < 1:
        raise ValueError(f"--cpus {options.cpus}: give 1 or more CPUs per emulated node")
    trust = EmulatorTrust(options, _addresses(options.controller[0]))
    emulator = Emulator(options, trust)
    log.warning("emulating %d node(s) (%s ... %s): %d CPUs, %d MiB, GPUs %s each; their jobs "
                "run no processes", len(options.names), options.names[0], options.names[-1],
                options.cpus, options.mem_mib, options.gpus or "none")
    config = uvicorn.Config(create_emulator_app(emulator), lifespan="on", log_level="warning",
                            access_log=False, timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[_listen_tcp(options.addr, options.port)])
