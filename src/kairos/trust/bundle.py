"""Several signed requests carried in one HTTP request (a bundle).

A process that speaks for many nodes (``kairos node --emulate``: one process, thousands
of nodes) cannot afford one HTTP request per node and message.  It sends a bundle
instead: a JSON list of *parts*, each one the request a node on its own would have sent
(its path, its body as text, its signature headers), signed exactly as that request would
be.  The receiver checks every part with its usual verifier, as if it had come alone:
same canonical request, same time window, same nonce cache, same sender rules.  The
bundle itself proves nothing and needs no signature; a part that does not check out is
refused alone, with the status its request would have got.

Standard library only, like the rest of ``kairos.trust``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kairos.trust.request import Identity, Signer, Verifier

#: Parts in one bundle at most (a receiver refuses more).
MAX_PARTS = 5000


@dataclass(frozen=True, slots=True)
class Part:
    """One signed request of a bundle, once checked: who sent it, where to, what."""

    identity: Identity
    path: str
    body: bytes


def sign_part(signer: Signer, path: str, body: bytes) -> dict[str, Any]:
    """The part of a bundle for ``POST path`` with ``body``, signed by ``signer``."""
    return {"path": path, "body": body.decode(), "headers": signer.sign("POST", path, body)}


def parts_of(bundle: Any) -> list[dict]:
    """The parts of a decoded bundle (``{"parts": [...]}``); ValueError saying what is
    wrong with its shape."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("parts"), list):
        raise ValueError('a bundle is {"parts": [{"path": ..., "body": ..., "headers": {...}}]}')
    parts = bundle["parts"]
    if len(parts) > MAX_PARTS:
        raise ValueError(f"a bundle holds at most {MAX_PARTS} parts, not {len(parts)}: "
                         f"send several")
    return parts


def check_part(verifier: Verifier, part: Any, *, peer_addr: str | None = None) -> Part:
    """``part`` verified as the ``POST`` request it stands for; ``AuthError`` when its
    signature does not check out, ValueError when it is not a part at all."""
    if not isinstance(part, dict):
        raise ValueError("a bundle's part is an object with path, body and headers")
    path, body, headers = part.get("path"), part.get("body"), part.get("headers")
    if not isinstance(path, str) or not isinstance(body, str) or not isinstance(headers, dict) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("a bundle's part needs path (text), body (text) and headers "
                         "(text values)")
    raw = body.encode()
    identity = verifier.verify("POST", path, raw, headers, peer_addr=peer_addr)
    return Part(identity, path, raw)


__all__ = ["MAX_PARTS", "Part", "check_part", "parts_of", "sign_part"]
