"""Key files: the controller's cluster key and each node's own key derived from it.

A key file holds 32 random bytes as 64 hex digits.  It must be owned by the user the
daemon runs as and readable by nobody else (mode 0400 or 0600): ``read_key`` refuses
anything else, and says which ``chmod``/``chown`` fixes it.

A node's key is ``HMAC-SHA256(cluster_key, b"kairos-node:" + name)``: the controller
derives any node's key on demand, a node holds only its own, and one node's key says
nothing about another's.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from kairos.trust.request import AuthError

KEY_BYTES = 32
NODE_KEY_LABEL = b"kairos-node:"


def derive_node_key(cluster_key: bytes, name: str) -> bytes:
    """The key of node ``name``."""
    return hmac.new(cluster_key, NODE_KEY_LABEL + name.encode(), hashlib.sha256).digest()


def create_cluster_key(path: str | os.PathLike[str]) -> bytes:
    """A new random cluster key, written to ``path`` (mode 0400); refuses to overwrite
    an existing file (``FileExistsError``): every node key derives from it."""
    key = secrets.token_bytes(KEY_BYTES)
    _write(Path(path), key, overwrite=False)
    return key


def write_node_key(path: str | os.PathLike[str], key: bytes, *, overwrite: bool = False) -> None:
    """Write a node's key to ``path`` (mode 0400); an existing file is replaced only
    with ``overwrite`` (atomically)."""
    _write(Path(path), key, overwrite=overwrite)


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``, after checking that only its owner, this process's user, can
    read it; :class:`~kairos.trust.request.AuthError` otherwise."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise AuthError(f"no key file at {path}: the controller needs the cluster key, a node "
                        "its own key derived from it") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        _check_private(path, info)
        text = handle.read(4 * KEY_BYTES).strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise AuthError(f"{path} is not a key file: {2 * KEY_BYTES} hex digits expected")
    return key


def _check_private(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise AuthError(f"key file {path} is owned by uid {info.st_uid}, not by this daemon's "
                        f"user (uid {os.geteuid()}): chown {os.geteuid()} {path}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise AuthError(f"key file {path} is open to group or others (mode {mode:04o}): "
                        f"chmod 400 {path}")


def _write(path: Path, key: bytes, *, overwrite: bool) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, not {len(key)}")
    target = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp") if overwrite else path
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    except FileExistsError:
        raise FileExistsError(f"{path} exists already: a key file is never overwritten "
                              "unasked (remove it first to replace that key)") from None
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o400)  # whatever the umask
            handle.write(key.hex() + "\n")
        if overwrite:
            os.replace(target, path)
    except BaseException:
        target.unlink(missing_ok=True)  # ours: created above
        raise
