"""Delivering the controller's commands to node daemons, in order, until they are taken.

Each remote node's link keeps an outbox (``kairos.server.links.RemoteLink``).  For each
node with something to send and no request in flight, the sender posts the outbox's
head (signed for that node: ``kairos.trust``) to ``/node/v1/<name>/commands``; what the
daemon took leaves the outbox, anything else stays for the next try.  The node's name in
the path makes a command captured on its way useless at any other node.  A node that
goes DOWN loses its outbox with it (``RemoteLink.lose_everything``): its jobs were ended.
"""

from __future__ import annotations

import asyncio
import json
import logging

from kairos.node.wire import encode

log = logging.getLogger("kairos.sender")

#: Commands sent in one request at most.
BATCH = 200
#: Seconds between tries for a node that does not take its commands.
RETRY = 1.0


def commands_path(node: str) -> str:
    return f"/node/v1/{node}/commands"


class Sender:
    """Posts each remote node's outbox; ``kick`` after adding to one."""

    def __init__(self, nodes, trust, *, timeout: float = 10.0) -> None:
        self.nodes = nodes
        self.trust = trust
        self.timeout = timeout
        self._kicked = asyncio.Event()
        self._busy: set[str] = set()
        self._client = None

    def kick(self) -> None:
        self._kicked.set()

    async def run(self) -> None:
        import httpx

        self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            while True:
                try:
                    await asyncio.wait_for(self._kicked.wait(), timeout=RETRY)
                except TimeoutError:
                    pass
                self._kicked.clear()
                for link in self.nodes.remote():
                    if link.outbox and link.name not in self._busy:
                        self._busy.add(link.name)
                        asyncio.create_task(self._deliver(link))
        finally:
            await self._client.aclose()

    async def _deliver(self, link) -> None:
        import httpx

        try:
            while link.outbox:
                batch = list(link.outbox)[:BATCH]
                path = commands_path(link.name)
                body = json.dumps({"commands": [encode(c) for c in batch]}).encode()
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
                for command in batch:  # unless the node was lost meanwhile
                    if link.outbox and link.outbox[0] is command:
                        link.outbox.popleft()
        except Exception:  # noqa: BLE001 - a bug here must not stop every node's commands
            log.exception("delivering commands to node %s failed", link.name)
        finally:
            self._busy.discard(link.name)
            if link.outbox:
                await asyncio.sleep(RETRY)
                self.kick()
