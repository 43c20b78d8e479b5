"""Downloading from the Parallel Workloads Archive, against a local HTTP server."""

from __future__ import annotations

import gzip
import http.server
import threading
from pathlib import Path

import pytest

from kairos.sim.archive import (
    CATALOGUE,
    DEFAULT_BASE_URL,
    FetchError,
    fetch,
    known_names,
    lookup,
    trace_url,
)
from kairos.sim.swf import read_swf

SWF_TEXT = "; Version: 2.2\n; MaxProcs: 100\n" + "".join(
    f"{i} {i * 10} 0 60 4 -1 -1 4 120 -1 1 3 3 -1 -1 -1 -1 -1\n" for i in range(1, 200)
)
KTH = "l_kth_sp2/KTH-SP2-1996-2.1-cln.swf.gz"


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []
    missing = 0  # announce this many bytes more than are sent (a dropped connection)

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        self.hits.append(self.path)
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) + self.missing))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    """A local archive; set ``files`` (path -> bytes) on the handler; yields its URL."""
    handler = type("Handler", (_Handler,), {"files": {}, "hits": [], "missing": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/archive/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_downloads_and_verifies(server, tmp_path):
    handler, url = server
    body = gzip.compress(SWF_TEXT.encode())
    handler.files[f"archive/{KTH}"] = body
    calls = []
    path = fetch("KTH-SP2", tmp_path / "traces", base_url=url, progress=lambda d, t: calls.append((d, t)))
    assert path == tmp_path / "traces" / "KTH-SP2-1996-2.1-cln.swf.gz"
    assert path.read_bytes() == body
    assert len(read_swf(path)) == 199
    assert calls[0] == (0, len(body)) and calls[-1] == (len(body), len(body))
    assert _leftovers(tmp_path / "traces") == [path.name]


def test_fetch_skips_an_existing_file(server, tmp_path):
    handler, url = server
    handler.files[f"archive/{KTH}"] = gzip.compress(SWF_TEXT.encode())
    existing = tmp_path / "KTH-SP2-1996-2.1-cln.swf.gz"
    existing.write_bytes(b"already here")
    assert fetch("kth-sp2", tmp_path, base_url=url) == existing
    assert existing.read_bytes() == b"already here" and handler.hits == []
    fetch("kth-sp2", tmp_path, base_url=url, force=True)
    assert read_swf(existing).header_int("MaxProcs") == 100 and len(handler.hits) == 1


def test_fetch_404(server, tmp_path):
    _, url = server
    with pytest.raises(FetchError) as e:
        fetch("sdsc-blue", tmp_path, base_url=url)
    msg = str(e.value)
    assert f"{url}l_sdsc_blue/SDSC-BLUE-2000-4.2-cln.swf.gz" in msg
    assert "404" in msg and "--trace" in msg
    assert _leftovers(tmp_path) == []


def test_fetch_rejects_non_gzip(server, tmp_path):
    handler, url = server
    handler.files[f"archive/{KTH}"] = b"<html>Moved</html>"
    with pytest.raises(FetchError, match="not give a gzip file.*--trace"):
        fetch("kth-sp2", tmp_path, base_url=url)
    assert _leftovers(tmp_path) == []


def test_fetch_rejects_truncated_gzip(server, tmp_path):
    handler, url = server
    handler.files[f"archive/{KTH}"] = gzip.compress(SWF_TEXT.encode())[:-20]
    with pytest.raises(FetchError, match="damaged or incomplete"):
        fetch("kth-sp2", tmp_path, base_url=url)
    assert _leftovers(tmp_path) == []


def test_fetch_connection_dropped(server, tmp_path):
    handler, url = server
    handler.files[f"archive/{KTH}"] = gzip.compress(SWF_TEXT.encode())
    handler.missing = 1000
    with pytest.raises(FetchError, match=r"l_kth_sp2/KTH-SP2-1996-2\.1-cln\.swf\.gz failed.*--trace"):
        fetch("kth-sp2", tmp_path, base_url=url, timeout=5)
    assert _leftovers(tmp_path) == []


def test_fetch_rejects_gzip_that_is_not_swf(server, tmp_path):
    handler, url = server
    handler.files[f"archive/{KTH}"] = gzip.compress(b"hello world\n")
    with pytest.raises(FetchError, match="not an SWF trace"):
        fetch("kth-sp2", tmp_path, base_url=url)
    assert _leftovers(tmp_path) == []


def test_fetch_unreachable_server(tmp_path):
    with pytest.raises(FetchError, match=r"http://127\.0\.0\.1:9/.*failed.*--trace"):
        fetch("kth-sp2", tmp_path, base_url="http://127.0.0.1:9/", timeout=5)
    assert _leftovers(tmp_path) == []


def test_unknown_name_lists_known_ones(tmp_path):
    with pytest.raises(ValueError) as e:
        fetch("no-such-machine", tmp_path)
    assert "kth-sp2" in str(e.value) and "hpc2n" in str(e.value)
    assert not isinstance(e.value, FetchError)


def test_catalogue_names_and_urls():
    assert lookup("KTH-SP2") is lookup("kth_sp2") is lookup("KTH-SP2-1996-2.1-cln")
    assert lookup("kth-sp2-1996-2.1-cln.swf.gz").procs == 100
    assert trace_url("hpc2n") == DEFAULT_BASE_URL + "l_hpc2n/HPC2N-2002-2.2-cln.swf.gz"
    assert trace_url("sdsc-par", "http://mirror.example/pwa") == (
        "http://mirror.example/pwa/l_sdsc_par/SDSC-Par-1996-3.1-cln.swf.gz"
    )
    for short in ("kth-sp2", "sdsc-sp2", "ctc-sp2", "hpc2n", "sdsc-blue", "llnl-thunder",
                  "osc-clust", "sdsc-par", "nasa-ipsc"):
        t = lookup(short)
        assert t.file.endswith("-cln.swf.gz") and t.folder.startswith("l_") and t.procs
    assert len(set(known_names())) == len(CATALOGUE)
    assert len({t.file for t in CATALOGUE}) == len(CATALOGUE)
