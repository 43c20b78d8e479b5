"""Delivering the controller's commands to node daemons, in order, until they are taken.

Each remote node's link keeps an outbox (``kairos.server.links.RemoteLink``).  For each
node with something to send and no request in flight, the sender posts the outbox's
head (signed for that node: ``kairos.trust``) to ``/node/v1/<name>/commands``; what the
daemon took leaves the outbox, anything else stays for the next try.  The node's name in
the path makes a command captured on its way useless at any other node.  A node that
goes DOWN loses its outbox with it (``RemoteLink.lose_everything``): its jobs were ended.
A daemon that speaks for many nodes (``kairos node --emulate``) says so when they
register (``bundles``): their commands then go in one request per endpoint
(``/node/v1/bundle``), one signed part per node (``kairos.trust.bundle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from kairos.model.json_text import dumps


log = logging.getLogger("kairos.sender")

#: Commands sent in one request at most.
BATCH = 200
#: Seconds between tries for a node that does not take its commands.
RETRY = 1.0
#: Nodes' commands in one bundle at most, and how long a bundle may take (seconds).
BUNDLE_PARTS = 1000
BUNDLE_TIMEOUT = 60.0


#: Where a daemon that speaks for many nodes takes their commands in one request.
BUNDLE_PATH = "/node/v1/bundle"


def commands_path(node: str) -> str:
    return f"/node/v1/{node}/commands"


class Sender:
    """Posts each remote node's outbox; ``kick(name)`` after adding to one.

    Only the nodes kicked since the last look are looked at (every node once per
    ``RETRY`` seconds): with thousands of nodes, scanning them all for every command
    would cost more than sending it.  Nodes whose daemon takes bundles
    (``RemoteLink.bundles``) share one request per endpoint (address and port)."""

    def __init__(self, nodes, trust, *, timeout: float = 10.0) -> None:
        self.nodes = nodes
        self.trust = trust
        self.timeout = timeout
        self._kicked = asyncio.Event()
        self._waiting: set[str] = set()  #: nodes given commands since the last look
        self._everyone = False  #: look at every node
        self._busy: set = set()  #: node names and endpoints with a request in flight
        #: endpoint -> nodes there with commands waiting for a bundle
        self._bundled: dict[tuple[str, int], set[str]] = {}
        self._client = None

    def kick(self, node: str | None = None) -> None:
        """``node`` has new commands (None: look at every node)."""
        if node is None:
            self._everyone = True
        else:
            self._waiting.add(node)
        self._kicked.set()

    async def run(self) -> None:
        import httpx

        self._client = httpx.AsyncClient(timeout=self.timeout)
        clock = asyncio.get_running_loop().time
        last_look = clock()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kicked.wait(), timeout=RETRY)
                self._kicked.clear()
                everyone = self._everyone or clock() - last_look >= RETRY
                self._everyone = False
                if everyone:
                    last_look = clock()
                names, self._waiting = self._waiting, set()
                if everyone:
                    links = self.nodes.remote()
                else:
                    links = [link for name in names
                             if (link := self.nodes.link(name)) is not None and link.remote]
                for link in links:
                    if not link.outbox:
                        continue
                    if link.bundles:
                        self._bundled.setdefault((link.addr, link.port), set()).add(link.name)
                    elif link.name not in self._busy:
                        self._busy.add(link.name)
                        asyncio.create_task(self._deliver(link))
                for endpoint, waiting in self._bundled.items():
                    if waiting and endpoint not in self._busy:
                        self._busy.add(endpoint)
                        asyncio.create_task(self._deliver_bundles(endpoint))
        finally:
            await self._client.aclose()

    async def _deliver(self, link) -> None:
        import httpx

        try:
            while link.outbox:
                batch, payload = link.batch(BATCH)
                path = commands_path(link.name)
                body = dumps(payload)
                headers = {"Content-Type": "application/json",
                           **self.trust.signer(link.name).sign("POST", path, body)}
                try:
                    response = await self._client.post(
                        f"http://{link.addr}:{link.port}{path}", content=body, headers=headers)
                except (OSError, httpx.TransportError) as e:
                    log.warning("node %s did not take %d command(s): %s", link.name, len(batch), e)
                    return
                if response.status_code != 200:
                    log.error("node %s refused %d command(s) (HTTP %s): %s", link.name,
                              len(batch), response.status_code, response.text[:300])
                    return
                _taken(link, batch)
        except Exception:  # noqa: BLE001 - a bug here must not stop every node's commands
            log.exception("delivering commands to node %s failed", link.name)
        finally:
            self._busy.discard(link.name)
            if link.outbox:
                await asyncio.sleep(RETRY)
                self.kick(link.name)

    async def _deliver_bundles(self, endpoint: tuple[str, int]) -> None:
        """Post the commands of the nodes waiting at ``endpoint``, one part per node
        (signed for it, as its own request would be), until none waits."""
        import httpx

        from kairos.trust.bundle import sign_part

        waiting = self._bundled[endpoint]
        failed = False
        try:
            while waiting and not failed:
                names = [waiting.pop() for _ in range(min(len(waiting), BUNDLE_PARTS))]
                sent, parts = [], []
                for name in names:
                    link = self.nodes.link(name)
                    if link is None or not link.outbox:
                        continue
                    batch, payload = link.batch(BATCH)
                    body = dumps(payload)
                    parts.append(sign_part(self.trust.signer(name), commands_path(name), body))
                    sent.append((link, batch))
                if not parts:
                    continue
                url = f"http://{endpoint[0]}:{endpoint[1]}{BUNDLE_PATH}"
                response = None
                try:
                    response = await self._client.post(
                        url, content=dumps({"parts": parts}), timeout=BUNDLE_TIMEOUT,
                        headers={"Content-Type": "application/json"})
                    answers = (orjson.loads(response.content)["answers"]
                               if response.status_code == 200 else None)
                except (OSError, httpx.TransportError, ValueError, KeyError) as e:
                    log.warning("%s did not take the commands of %d node(s): %s", url,
                                len(parts), e or type(e).__name__)
                    answers = None
                if answers is None or len(answers) != len(sent):
                    if answers is None and response is not None:
                        log.error("%s refused the commands of %d node(s) (HTTP %s): %s", url,
                                  len(parts), response.status_code, response.text[:300])
                    failed = True
                    answers = [{}] * len(sent)
                for (link, batch), answer in zip(sent, answers):
                    if answer.get("status") == 200:
                        _taken(link, batch)
                    elif answer:
                        failed = True
                        log.error("node %s refused %d command(s) (HTTP %s): %s", link.name,
                                  len(batch), answer.get("status"), str(answer.get("body"))[:300])
                    if link.outbox:
                        waiting.add(link.name)
        except Exception:  # noqa: BLE001 - a bug here must not stop every node's commands
            log.exception("delivering commands to %s:%s failed", *endpoint)
            failed = True
        finally:
            self._busy.discard(endpoint)
            if waiting:
                if failed:
                    await asyncio.sleep(RETRY)
                self._kicked.set()


def _taken(link, batch: list) -> None:
    """The node took ``batch``: it leaves the outbox (unless the node was lost meanwhile
    and the outbox emptied)."""
    for command in batch:
        if link.outbox and link.outbox[0] is command:
            link.outbox.popleft()
            link.taken += 1
