"""What signing and verifying one request costs, in each mode (printed with ``-s``)."""

from __future__ import annotations

import time

import pytest

from kairos.trust import KeySigner, KeyVerifier, MungeSigner, MungeVerifier

BODY = b"x" * 1024
ROUNDS = 300


def cost_us(signer, verifier) -> float:
    """Mean µs of one sign plus one verify of a 1 KiB request."""
    start = time.perf_counter()
    for i in range(ROUNDS):
        path = f"/api/v1/cluster/nodes/n1/heartbeat?seq={i}"
        verifier.verify("POST", path, BODY, signer.sign("POST", path, BODY))
    return (time.perf_counter() - start) / ROUNDS * 1e6


def test_shared_key_cost():
    key = bytes(32)
    micros = cost_us(KeySigner("n1", key), KeyVerifier(lambda sender: key))
    print(f"\nshared key: sign+verify {micros:.1f} µs per request")
    assert micros < 2_000


@pytest.mark.usefixtures("system_munge")
def test_munge_cost():
    micros = cost_us(MungeSigner("n1"), MungeVerifier(lambda sender: None))
    print(f"\nMUNGE: sign+verify {micros:.1f} µs per request")
    assert micros < 50_000
