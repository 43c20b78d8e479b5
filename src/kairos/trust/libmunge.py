"""A small ctypes binding to libmunge: encode and decode MUNGE credentials.

MUNGE's own client library does the work (it talks to the local ``munged`` over its Unix
socket); this module only calls it.  The binding on PyPI, ``pymunge``, is an unmaintained
alpha from the Python 3.4 era, so the hundred lines we need are written here instead,
with the standard library's ctypes.

The numbers below are those of ``munge.h`` (MUNGE 0.5): ``munge_opt_t`` for the options
and ``munge_err_t`` for the errors.  ``munge_ctx_set`` and ``munge_ctx_get`` are variadic
in C; they are called here without argtypes, with each argument wrapped in its ctypes
type, which is how the System V and ordinary AArch64 calling conventions pass variadic
integers and pointers.

A context holds what a decode reports (origin address, encode time), so each call uses
a context of its own: calls from several threads never share one.  The buffers libmunge
allocates (the credential, the decoded payload) are freed with the C library's ``free``,
on errors too: libmunge returns the payload of an expired or replayed credential.
"""

from __future__ import annotations

import ctypes
import enum
import threading
from dataclasses import dataclass

LIBRARY = "libmunge.so.2"

# munge_opt_t
OPT_TTL = 4
OPT_ADDR4 = 5
OPT_ENCODE_TIME = 6
OPT_SOCKET = 8


class MungeCode(enum.IntEnum):
    """``munge_err_t``: what libmunge or munged answered."""

    SUCCESS = 0
    SNAFU = 1
    BAD_ARG = 2
    BAD_LENGTH = 3
    OVERFLOW = 4
    NO_MEMORY = 5
    SOCKET = 6
    TIMEOUT = 7
    BAD_CRED = 8
    BAD_VERSION = 9
    BAD_CIPHER = 10
    BAD_MAC = 11
    BAD_ZIP = 12
    BAD_REALM = 13
    CRED_INVALID = 14
    CRED_EXPIRED = 15
    CRED_REWOUND = 16
    CRED_REPLAYED = 17
    CRED_UNAUTHORIZED = 18

    @property
    def about_credential(self) -> bool:
        """True when the credential is at fault, False when this side's MUNGE is."""
        return self >= MungeCode.BAD_CRED


class MungeError(OSError):
    """libmunge failed; ``code`` says how (a :class:`MungeCode`, or a plain int)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        try:
            self.code: MungeCode | int = MungeCode(code)
        except ValueError:  # a newer libmunge's error
            self.code = code


@dataclass(frozen=True, slots=True)
class Credential:
    """What ``munge_decode`` vouches for: who encoded ``payload``, from where, when."""

    payload: bytes
    uid: int
    gid: int
    origin: str
    encode_time: int
    ttl: int


class _Library:
    """libmunge and libc's ``free``, with the prototypes of the functions used."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(LIBRARY)
        lib.munge_ctx_create.restype = ctypes.c_void_p
        lib.munge_ctx_create.argtypes = []
        lib.munge_ctx_destroy.restype = None
        lib.munge_ctx_destroy.argtypes = [ctypes.c_void_p]
        lib.munge_ctx_strerror.restype = ctypes.c_char_p
        lib.munge_ctx_strerror.argtypes = [ctypes.c_void_p]
        lib.munge_strerror.restype = ctypes.c_char_p
        lib.munge_strerror.argtypes = [ctypes.c_int]
        lib.munge_ctx_set.restype = ctypes.c_int
        lib.munge_ctx_get.restype = ctypes.c_int
        lib.munge_encode.restype = ctypes.c_int
        lib.munge_encode.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
                                     ctypes.c_char_p, ctypes.c_int]
        lib.munge_decode.restype = ctypes.c_int
        lib.munge_decode.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                                     ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int),
                                     ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint32)]
        libc = ctypes.CDLL(None)
        libc.free.restype = None
        libc.free.argtypes = [ctypes.c_void_p]
        self.lib, self.free = lib, libc.free


_loaded: _Library | None = None
_load_lock = threading.Lock()


def library() -> _Library:
    """libmunge, loaded on first use; ``OSError`` when it is not installed."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = _Library()
        return _loaded


class _Context:
    """One ``munge_ctx_t``, destroyed on leaving the ``with`` block."""

    def __init__(self, socket: str | None, ttl: int | None = None) -> None:
        self.lib = library().lib
        self.ctx = self.lib.munge_ctx_create()
        if not self.ctx:
            raise MungeError(MungeCode.NO_MEMORY, "munge_ctx_create failed: out of memory")
        try:
            if socket is not None:
                self._check(self.lib.munge_ctx_set(ctypes.c_void_p(self.ctx), ctypes.c_int(OPT_SOCKET),
                                                   ctypes.c_char_p(socket.encode())))
            if ttl is not None:
                self._check(self.lib.munge_ctx_set(ctypes.c_void_p(self.ctx), ctypes.c_int(OPT_TTL),
                                                   ctypes.c_int(ttl)))
        except BaseException:
            self.lib.munge_ctx_destroy(self.ctx)
            raise

    def __enter__(self) -> _Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lib.munge_ctx_destroy(self.ctx)

    def error(self, code: int) -> MungeError:
        text = self.lib.munge_ctx_strerror(self.ctx) or self.lib.munge_strerror(code)
        return MungeError(code, (text or b"unknown MUNGE error").decode(errors="replace"))

    def _check(self, code: int) -> None:
        if code != MungeCode.SUCCESS:
            raise self.error(code)

    def get(self, option: int, value: ctypes._SimpleCData | ctypes.Array) -> None:
        self._check(self.lib.munge_ctx_get(ctypes.c_void_p(self.ctx), ctypes.c_int(option),
                                           ctypes.byref(value)))


def encode(payload: bytes, *, socket: str | None = None, ttl: int | None = None) -> str:
    """A credential carrying ``payload``, from the munged on ``socket`` (default: the
    system's); ``ttl`` in seconds (default: munged's, 300 s)."""
    loaded = library()
    with _Context(socket, ttl) as ctx:
        cred = ctypes.c_void_p()
        code = loaded.lib.munge_encode(ctypes.byref(cred), ctx.ctx, payload, len(payload))
        try:
            if code != MungeCode.SUCCESS:
                raise ctx.error(code)
            return ctypes.string_at(cred).decode("ascii")
        finally:
            if cred.value:
                loaded.free(cred)


def decode(credential: str, *, socket: str | None = None) -> Credential:
    """What ``credential`` vouches for, as checked by the munged on ``socket``;
    :class:`MungeError` when munged refuses it (invalid, expired, replayed, ...)."""
    loaded = library()
    with _Context(socket) as ctx:
        buf, length = ctypes.c_void_p(), ctypes.c_int()
        uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
        code = loaded.lib.munge_decode(credential.encode("ascii", errors="replace"), ctx.ctx,
                                       ctypes.byref(buf), ctypes.byref(length),
                                       ctypes.byref(uid), ctypes.byref(gid))
        try:
            if code != MungeCode.SUCCESS:
                raise ctx.error(code)
            payload = ctypes.string_at(buf, length.value) if buf.value else b""
        finally:
            if buf.value:
                loaded.free(buf)
        addr, when, ttl = (ctypes.c_ubyte * 4)(), ctypes.c_long(), ctypes.c_int()
        ctx.get(OPT_ADDR4, addr)
        ctx.get(OPT_ENCODE_TIME, when)
        ctx.get(OPT_TTL, ttl)
        return Credential(payload=payload, uid=uid.value, gid=gid.value,
                          origin=".".join(str(octet) for octet in addr),
                          encode_time=when.value, ttl=ttl.value)


def unusable_reason(socket: str | None = None) -> str | None:
    """None when MUNGE works here (libmunge loads, munged on ``socket`` encodes and
    decodes a credential); else why not, with what to do about it."""
    try:
        library()
    except OSError as exc:
        return f"{LIBRARY} cannot be loaded ({exc}): install MUNGE (e.g. apt install munge)"
    where = socket or "the default socket"
    try:
        decode(encode(b"", socket=socket), socket=socket)
    except MungeError as exc:
        if exc.code == MungeCode.SOCKET:
            return f"munged does not answer on {where} ({exc}): start it (e.g. systemctl start munge)"
        return f"munged on {where} cannot decode its own credential ({exc}): check its key and logs"
    return None
