"""Shared-key signatures: what they accept, and every way a request is refused."""

from __future__ import annotations

import time

import pytest

from kairos.trust import AuthError, KeySigner, KeyVerifier, controller_trust, node_trust, read_key
from kairos.trust.replay import NonceCache

PATH = "/api/v1/cluster/nodes/n1/heartbeat?full=1"
BODY = b'{"jobs": [12, 13]}'


@pytest.fixture
def controller(cluster_key_file):
    return controller_trust(auth="key", key_file=cluster_key_file)


@pytest.fixture
def n1(node_key_files):
    return node_trust("n1", auth="key", key_file=node_key_files["n1"])


@pytest.fixture
def n2(node_key_files):
    return node_trust("n2", auth="key", key_file=node_key_files["n2"])


def test_a_node_request_round_trips(controller, n1):
    headers = n1.signer.sign("POST", PATH, BODY)
    assert set(headers) == {"X-Kairos-Sender", "X-Kairos-Time", "X-Kairos-Nonce", "X-Kairos-Signature"}
    identity = controller.verifier.verify("POST", PATH, BODY, headers, peer_addr="10.0.0.7")
    assert (identity.sender, identity.addr, identity.uid, identity.caller) == ("n1", "10.0.0.7", None, None)


def test_a_controller_request_round_trips_with_the_nodes_own_key(controller, n1, n2):
    headers = controller.signer("n1").sign("POST", "/node/v1/jobs/12/cancel", b"")
    assert n1.verifier.verify("POST", "/node/v1/jobs/12/cancel", b"", headers).sender == "controller"
    with pytest.raises(AuthError, match="bad signature"):
        n2.verifier.verify("POST", "/node/v1/jobs/12/cancel", b"", headers)


def test_header_names_are_case_insensitive(controller, n1):
    headers = {name.lower(): value for name, value in n1.signer.sign("GET", PATH, b"").items()}
    assert controller.verifier.verify("GET", PATH, b"", headers).sender == "n1"


@pytest.mark.parametrize("change", ["method", "path", "query", "body"])
def test_a_request_changed_after_signing_is_refused(controller, n1, change):
    headers = n1.signer.sign("POST", PATH, BODY)
    request = {"method": "POST", "path": PATH, "body": BODY}
    request.update({"method": {"method": "PUT"}, "path": {"path": PATH.replace("n1", "n2")},
                    "query": {"path": PATH + "&x=1"}, "body": {"body": BODY + b" "}}[change])
    with pytest.raises(AuthError, match="changed after it was signed"):
        controller.verifier.verify(request["method"], request["path"], request["body"], headers)


def test_a_forged_signature_is_refused(controller, n1):
    headers = n1.signer.sign("POST", PATH, BODY)
    headers["X-Kairos-Signature"] = "0" * 64
    with pytest.raises(AuthError, match="bad signature from 'n1'"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_a_wrong_key_is_refused(controller):
    stranger = KeySigner("n1", bytes(32))
    with pytest.raises(AuthError, match="bad signature from 'n1'"):
        controller.verifier.verify("POST", PATH, BODY, stranger.sign("POST", PATH, BODY))


def test_a_node_cannot_sign_as_another_node(controller, node_key_files):
    n1_key = node_key_files["n1"]
    impostor = KeySigner("n2", read_key(n1_key))
    with pytest.raises(AuthError, match="bad signature from 'n2'"):
        controller.verifier.verify("POST", PATH, BODY, impostor.sign("POST", PATH, BODY))
    # nor as the controller towards another node
    as_controller = KeySigner("controller", read_key(n1_key))
    n2 = node_trust("n2", auth="key", key_file=node_key_files["n2"])
    with pytest.raises(AuthError, match="bad signature from 'controller'"):
        n2.verifier.verify("POST", PATH, BODY, as_controller.sign("POST", PATH, BODY))


def test_a_replayed_request_is_refused(controller, n1):
    headers = n1.signer.sign("POST", PATH, BODY)
    controller.verifier.verify("POST", PATH, BODY, headers)
    with pytest.raises(AuthError, match="replayed"):
        controller.verifier.verify("POST", PATH, BODY, headers)
    # the same nonce from another sender is another request
    controller.verifier.verify("POST", PATH, BODY, n1.signer.sign("POST", PATH, BODY))


@pytest.mark.parametrize("skew", [-61, 61, -3600])
def test_a_stale_or_future_timestamp_is_refused(cluster_key_file, node_key_files, skew):
    signer = KeySigner("n1", read_key(node_key_files["n1"]), clock=lambda: time.time() + skew)
    verifier = controller_trust(auth="key", key_file=cluster_key_file).verifier
    with pytest.raises(AuthError, match="at most 60 s allowed.*NTP"):
        verifier.verify("POST", PATH, BODY, signer.sign("POST", PATH, BODY))


def test_the_window_is_an_argument(cluster_key_file, node_key_files):
    signer = KeySigner("n1", read_key(node_key_files["n1"]), clock=lambda: time.time() - 200)
    verifier = controller_trust(auth="key", key_file=cluster_key_file, window=300).verifier
    assert verifier.verify("POST", PATH, BODY, signer.sign("POST", PATH, BODY)).sender == "n1"


def test_a_node_takes_requests_from_the_controller_only(n1, n2):
    with pytest.raises(AuthError, match="from the controller only"):
        n1.verifier.verify("POST", PATH, BODY, n2.signer.sign("POST", PATH, BODY))


def test_the_controller_refuses_requests_signed_as_controller(controller):
    headers = controller.signer("n1").sign("POST", PATH, BODY)
    with pytest.raises(AuthError, match="only nodes send requests here"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_an_unknown_node_is_refused(cluster_key_file, n1):
    controller = controller_trust(auth="key", key_file=cluster_key_file, known_node=lambda name: name == "n2")
    with pytest.raises(AuthError, match="unknown node 'n1'"):
        controller.verifier.verify("POST", PATH, BODY, n1.signer.sign("POST", PATH, BODY))


@pytest.mark.parametrize("missing", ["X-Kairos-Signature", "X-Kairos-Sender", "X-Kairos-Time", "X-Kairos-Nonce"])
def test_an_unsigned_request_names_the_missing_header(controller, n1, missing):
    headers = n1.signer.sign("POST", PATH, BODY)
    del headers[missing]
    with pytest.raises(AuthError, match=f"no {missing} header"):
        controller.verifier.verify("POST", PATH, BODY, headers)


@pytest.mark.parametrize("header, value", [("X-Kairos-Sender", "n1\nforged"), ("X-Kairos-Time", "12.5"),
                                           ("X-Kairos-Nonce", "x" * 65), ("X-Kairos-Signature", "é" * 64)])
def test_malformed_headers_are_refused(controller, n1, header, value):
    headers = n1.signer.sign("POST", PATH, BODY)
    headers[header] = value
    with pytest.raises(AuthError):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_the_caller_a_daemon_vouches_for_is_signed(controller, n1):
    headers = n1.signer.sign("POST", "/api/v1/jobs", BODY, caller=(1000, 100))
    assert headers["X-Kairos-Caller"] == "1000,100"
    assert controller.verifier.verify("POST", "/api/v1/jobs", BODY, dict(headers)).caller == (1000, 100)
    headers = n1.signer.sign("POST", "/api/v1/jobs", BODY, caller=(1000, 100))
    headers["X-Kairos-Caller"] = "0,0"
    with pytest.raises(AuthError, match="changed after it was signed"):
        controller.verifier.verify("POST", "/api/v1/jobs", BODY, headers)
    headers = n1.signer.sign("POST", "/api/v1/jobs", BODY, caller=(1000, 100))
    del headers["X-Kairos-Caller"]
    with pytest.raises(AuthError, match="changed after it was signed"):
        controller.verifier.verify("POST", "/api/v1/jobs", BODY, headers)


def test_a_munge_signed_request_says_the_modes_differ(controller):
    headers = {"X-Kairos-Sender": "n1", "X-Kairos-Time": str(int(time.time())), "X-Kairos-Credential": "MUNGE:x:"}
    with pytest.raises(AuthError, match="same auth setting"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_the_nonce_cache_forgets_after_the_window_and_is_bounded():
    cache = NonceCache(window=60, capacity=2)
    cache.remember("n1", "a", timestamp=1000, now=1000)
    with pytest.raises(AuthError, match="replayed"):
        cache.remember("n1", "a", timestamp=1000, now=1059)
    cache.remember("n1", "a", timestamp=1061, now=1061)  # the first one expired at 1060
    cache.remember("n2", "a", timestamp=1061, now=1061)
    cache.remember("n1", "b", timestamp=1061, now=1061)
    with pytest.raises(AuthError, match="more than 2 requests from 'n1'"):
        cache.remember("n1", "c", timestamp=1061, now=1061)
    cache.remember("n1", "c", timestamp=1122, now=1122)


def test_sender_names_are_spelled_like_host_names():
    verifier = KeyVerifier(lambda sender: bytes(32))
    headers = KeySigner("n-1.a_b", bytes(32)).sign("GET", "/", b"")
    assert verifier.verify("GET", "/", b"", headers).sender == "n-1.a_b"
    with pytest.raises(ValueError, match="invalid sender name"):
        KeySigner("n1\n", bytes(32))
