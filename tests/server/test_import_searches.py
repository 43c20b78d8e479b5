"""The controller, its node agents and the emulator talk over httpx's async client: once
warm, a request must not search sys.path for a module (a failed import costs ~50 us a
request and is never cached; httpcore asks for ``sniffio`` at every request)."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys

import httpx


class _Spy(importlib.abc.MetaPathFinder):
    """Records every module the import system searches for (only what is not loaded)."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def find_spec(self, name, path, target=None):
        self.searched.append(name)
        return None


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed its connection
    finally:
        writer.close()


def test_a_warm_async_client_searches_for_no_module():
    spy = _Spy()

    async def main() -> list[int]:
        server = await asyncio.start_server(_answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        codes = []
        async with server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            codes.append((await client.get("/")).status_code)  # warm: first imports
            sys.meta_path.insert(0, spy)
            try:
                for _ in range(5):
                    codes.append((await client.post("/", json={"k": 1})).status_code)
            finally:
                sys.meta_path.remove(spy)
        return codes

    assert asyncio.run(main()) == [200] * 6
    assert spy.searched == [], f"searched at every request: {sorted(set(spy.searched))}"
