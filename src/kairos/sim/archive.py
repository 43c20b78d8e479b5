"""Downloading well-known traces from the Parallel Workloads Archive.

The archive (D. G. Feitelson, D. Tsafrir and D. Krakov, "Experience with using the
Parallel Workloads Archive", J. Parallel and Distributed Computing 74(10), 2014) keeps
each log in its own folder: ``<base>/l_<system>/<file>.swf.gz``.  ``CATALOGUE`` lists the
cleaned logs most scheduling papers use; ``fetch("kth-sp2", folder)`` downloads one.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kairos import __version__
from kairos.sim.swf import SwfError, is_gzip, read_swf

__all__ = [
    "CATALOGUE", "DEFAULT_BASE_URL", "ArchiveTrace", "FetchError", "fetch", "known_names",
    "lookup", "trace_url",
]

DEFAULT_BASE_URL = "https://www.cs.huji.ac.il/labs/parallel/workload/"
_CHUNK = 1 << 16

Progress = Callable[[int, "int | None"], None]


class FetchError(RuntimeError):
    """A download that failed or gave something that is not a gzip SWF file."""


@dataclass(frozen=True)
class ArchiveTrace:
    """One log of the archive."""

    short: str  #: short name, e.g. "kth-sp2"
    folder: str  #: the log's folder in the archive, e.g. "l_kth_sp2"
    file: str  #: e.g. "KTH-SP2-1996-2.1-cln.swf.gz"
    procs: int | None = None  #: MaxProcs of the log
    jobs: int | None = None  #: job lines in the file

    @property
    def stem(self) -> str:
        """The file name without ``.swf.gz``."""
        return self.file[: -len(".swf.gz")] if self.file.endswith(".swf.gz") else self.file

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        return trace_url(self, base_url)


CATALOGUE: tuple[ArchiveTrace, ...] = (
    ArchiveTrace("kth-sp2", "l_kth_sp2", "KTH-SP2-1996-2.1-cln.swf.gz", 100, 28_476),
    ArchiveTrace("sdsc-sp2", "l_sdsc_sp2", "SDSC-SP2-1998-4.2-cln.swf.gz", 128, 59_715),
    ArchiveTrace("ctc-sp2", "l_ctc_sp2", "CTC-SP2-1996-3.1-cln.swf.gz", 338, 77_222),
    ArchiveTrace("hpc2n", "l_hpc2n", "HPC2N-2002-2.2-cln.swf.gz", 240, 202_871),
    ArchiveTrace("sdsc-blue", "l_sdsc_blue", "SDSC-BLUE-2000-4.2-cln.swf.gz", 1_152, 243_306),
    ArchiveTrace("llnl-thunder", "l_llnl_thunder", "LLNL-Thunder-2007-1.1-cln.swf.gz", 4_008, 121_039),
    ArchiveTrace("osc-clust", "l_osc", "OSC-Clust-2000-3.1-cln.swf.gz", 178, 36_097),
    ArchiveTrace("sdsc-par", "l_sdsc_par", "SDSC-Par-1996-3.1-cln.swf.gz", 400, 32_135),
    ArchiveTrace("nasa-ipsc", "l_nasa_ipsc", "NASA-iPSC-1993-3.1-cln.swf.gz", 128, 18_239),
    ArchiveTrace("sdsc-par-1995", "l_sdsc_par", "SDSC-Par-1995-3.1-cln.swf.gz"),
    ArchiveTrace("lanl-cm5", "l_lanl_cm5", "LANL-CM5-1994-4.1-cln.swf.gz"),
    ArchiveTrace("sandia-ross", "l_sandia_ross", "Sandia-Ross-2001-1.1-cln.swf.gz"),
    ArchiveTrace("sdsc-ds", "l_sdsc_ds", "SDSC-DS-2004-2.1-cln.swf.gz"),
    ArchiveTrace("lpc-egee", "l_lpc", "LPC-EGEE-2004-1.2-cln.swf.gz"),
    ArchiveTrace("llnl-atlas", "l_llnl_atlas", "LLNL-Atlas-2006-2.1-cln.swf.gz"),
    ArchiveTrace("cea-curie", "l_cea_curie", "CEA-Curie-2011-2.1-cln.swf.gz"),
)


def _key(name: str) -> str:
    name = name.strip().lower()
    for suffix in (".gz", ".swf"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[\s_]+", "-", name)


_BY_NAME: dict[str, ArchiveTrace] = {}
for _t in CATALOGUE:
    for _alias in (_t.short, _t.stem):
        _BY_NAME.setdefault(_key(_alias), _t)


def known_names() -> list[str]:
    """The short names, in catalogue order."""
    return [t.short for t in CATALOGUE]


def lookup(name: str) -> ArchiveTrace:
    """The catalogue entry for ``name``: a short name (``kth-sp2``), the file's stem
    (``KTH-SP2-1996-2.1-cln``) or file name, in any case.  ValueError when unknown."""
    found = _BY_NAME.get(_key(name))
    if found is None:
        raise ValueError(
            f"unknown trace {name!r}; known traces: {', '.join(known_names())} "
            f"(or a full file stem such as {CATALOGUE[0].stem})"
        )
    return found


def trace_url(trace: ArchiveTrace | str, base_url: str = DEFAULT_BASE_URL) -> str:
    """``<base_url>/l_<system>/<file>``."""
    t = lookup(trace) if isinstance(trace, str) else trace
    base = base_url if base_url.endswith("/") else base_url + "/"
    return urllib.parse.urljoin(base, f"{t.folder}/{t.file}")


def _hint(url: str) -> str:
    return f"Download it by hand (e.g. `curl -LO {url}`) and pass the file with --trace PATH."


def _check(path: Path, url: str) -> None:
    """The download must be a whole gzip file holding SWF."""
    if not is_gzip(path):
        raise FetchError(f"{url} did not give a gzip file (an error page?). {_hint(url)}")
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as e:
        raise FetchError(f"{url} gave a damaged or incomplete gzip file ({e}). {_hint(url)}") from e
    try:
        read_swf(path, limit=1)
    except SwfError as e:
        raise FetchError(f"{url} is not an SWF trace: {e}. {_hint(url)}") from e


def fetch(
    name: str,
    dest_dir: str | os.PathLike,
    *,
    base_url: str = DEFAULT_BASE_URL,
    progress: Progress | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the trace ``name`` (see ``lookup``) into ``dest_dir``; return its path.

    An existing file is kept (nothing is downloaded) unless ``force``.  The data goes to
    a temporary file in ``dest_dir`` that becomes the trace only once it is complete and
    checked (a whole gzip file with SWF inside), so no half file is ever left behind.
    ``progress(done_bytes, total_bytes_or_None)`` is called as bytes arrive.
    Raises ValueError for an unknown name and FetchError when the download fails.
    """
    trace = lookup(name)
    dest_dir = Path(dest_dir).expanduser()
    dest = dest_dir / trace.file
    if dest.exists() and not force:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    url = trace_url(trace, base_url)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{trace.file}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(url, out, progress, timeout)
        _check(tmp, url)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _download(url: str, out, progress: Progress | None, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": f"kairos/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress is not None:
                progress(done, total)
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        raise FetchError(f"downloading {url} failed: HTTP {e.code} {e.reason}. {_hint(url)}") from e
    except urllib.error.URLError as e:
        raise FetchError(f"downloading {url} failed: {e.reason}. {_hint(url)}") from e
    except (OSError, ValueError, http.client.HTTPException) as e:  # timeouts, resets, short reads
        raise FetchError(f"downloading {url} failed: {e}. {_hint(url)}") from e
    if total is not None and done != total:
        raise FetchError(
            f"downloading {url} failed: got {done} of {total} bytes. {_hint(url)}"
        )
