"""MUNGE-signed requests against real munged daemons: what they accept, what they refuse."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from kairos.trust import (AuthError, KeySigner, MungeSigner, MungeVerifier, TrustUnavailable,
                          canonical_request, controller_trust, node_trust)
from kairos.trust import libmunge

from tests.trust.conftest import OTHER_ORIGIN

pytestmark = pytest.mark.usefixtures("system_munge")

PATH = "/api/v1/cluster/nodes/n1/events?since=3"
BODY = b'{"events": []}'
ELSEWHERE = "10.99.0.6"


@pytest.fixture(scope="module")
def here(system_munge) -> str:
    """The origin address the system's munged writes into its credentials."""
    return libmunge.decode(libmunge.encode(b"")).origin


@pytest.fixture
def addresses(here):
    return {"n1": [here], "n2": [ELSEWHERE], "n3": [OTHER_ORIGIN]}


@pytest.fixture
def controller(addresses):
    return controller_trust(auth="munge", node_addresses=addresses.get)


@pytest.fixture
def n1(here):
    return node_trust("n1", auth="munge", controller_addresses=here)


def test_a_node_request_round_trips(controller, n1, here):
    headers = n1.signer.sign("POST", PATH, BODY)
    assert set(headers) == {"X-Kairos-Sender", "X-Kairos-Time", "X-Kairos-Credential"}
    identity = controller.verifier.verify("POST", PATH, BODY, headers)
    assert (identity.sender, identity.uid, identity.gid, identity.addr) == ("n1", 0, 0, here)


def test_a_controller_request_round_trips(controller, n1):
    headers = controller.signer("n1").sign("POST", "/node/v1/jobs/12/launch", BODY)
    assert n1.verifier.verify("POST", "/node/v1/jobs/12/launch", BODY, headers).sender == "controller"


def test_the_credentials_payload_is_the_canonical_request(n1):
    headers = n1.signer.sign("POST", PATH, BODY)
    payload = libmunge.decode(headers["X-Kairos-Credential"]).payload
    assert payload == canonical_request("POST", PATH, BODY, "n1", headers["X-Kairos-Time"], "")


@pytest.mark.parametrize("change", ["method", "path", "query", "body"])
def test_a_request_changed_after_signing_is_refused(controller, n1, change):
    headers = n1.signer.sign("POST", PATH, BODY)
    request = {"method": "POST", "path": PATH, "body": BODY}
    request.update({"method": {"method": "PUT"}, "path": {"path": PATH.replace("n1", "n2")},
                    "query": {"path": PATH + "&x=1"}, "body": {"body": BODY + b" "}}[change])
    with pytest.raises(AuthError, match="made for another request"):
        controller.verifier.verify(request["method"], request["path"], request["body"], headers)


def test_a_forged_credential_is_refused(controller, n1):
    headers = n1.signer.sign("POST", PATH, BODY)
    credential = headers["X-Kairos-Credential"]
    middle = len(credential) // 2
    headers["X-Kairos-Credential"] = credential[:middle] + ("A" if credential[middle] != "A" else "B") + credential[middle + 1:]
    with pytest.raises(AuthError, match="refused: .*MUNGE credential|refused: not a MUNGE credential"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_a_replayed_credential_is_refused(controller, n1):
    headers = n1.signer.sign("POST", PATH, BODY)
    controller.verifier.verify("POST", PATH, BODY, headers)
    with pytest.raises(AuthError, match="replayed"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_an_expired_credential_is_refused(controller):
    headers = MungeSigner("n1", ttl=1).sign("POST", PATH, BODY)
    time.sleep(2.1)
    with pytest.raises(AuthError, match="expired.*NTP"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_a_stale_timestamp_is_refused(controller):
    headers = MungeSigner("n1", clock=lambda: time.time() - 120).sign("POST", PATH, BODY)
    with pytest.raises(AuthError, match="at most 60 s allowed"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_a_node_cannot_speak_for_another_node(controller):
    """n1's host signs as n2: the credential's origin is n1's address, not n2's."""
    headers = MungeSigner("n2").sign("POST", PATH, BODY)
    with pytest.raises(AuthError, match="claims to come from 'n2' .* origin in its credential .*cannot speak for another"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_the_tcp_peer_address_is_checked_when_given(controller):
    headers = MungeSigner("n2").sign("POST", PATH, BODY)
    assert controller.verifier.verify("POST", PATH, BODY, headers, peer_addr=ELSEWHERE).addr == ELSEWHERE
    headers = MungeSigner("n1").sign("POST", PATH, BODY)
    with pytest.raises(AuthError, match="its TCP peer address is 10.99.0.6"):
        controller.verifier.verify("POST", PATH, BODY, headers, peer_addr=ELSEWHERE)


def test_a_node_checks_the_controllers_address():
    node = node_trust("n1", auth="munge", controller_addresses=[ELSEWHERE])
    headers = MungeSigner("controller").sign("GET", "/node/v1/status", b"")
    with pytest.raises(AuthError, match="claims to come from 'controller'"):
        node.verifier.verify("GET", "/node/v1/status", b"", headers)


def test_a_node_takes_requests_from_the_controller_only(n1):
    with pytest.raises(AuthError, match="from the controller only"):
        n1.verifier.verify("POST", PATH, BODY, MungeSigner("n2").sign("POST", PATH, BODY))


def test_unknown_nodes_are_refused(here):
    controller = controller_trust(auth="munge", known_node=lambda name: name == "n1")
    with pytest.raises(AuthError, match="unknown node 'n9'"):
        controller.verifier.verify("POST", PATH, BODY, MungeSigner("n9").sign("POST", PATH, BODY))


def nobody_credential(payload: bytes) -> str:
    if os.geteuid() != 0:
        pytest.skip("making a credential as another user needs root")
    made = subprocess.run(["munge"], input=payload, capture_output=True, user="nobody", group="nogroup")
    if made.returncode != 0:
        pytest.skip(f"munge as nobody failed: {made.stderr.decode().strip()}")
    return made.stdout.decode().strip()


def nobody_headers(path: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    credential = nobody_credential(canonical_request("POST", path, body, "n1", timestamp, ""))
    return {"X-Kairos-Sender": "n1", "X-Kairos-Time": timestamp, "X-Kairos-Credential": credential}


def test_a_credential_made_by_a_non_root_user_is_refused(controller):
    with pytest.raises(AuthError, match="made by uid 65534, not by uid 0: only the daemons may sign"):
        controller.verifier.verify("POST", PATH, BODY, nobody_headers(PATH, BODY))


def test_a_configured_service_user_may_sign(addresses):
    controller = controller_trust(auth="munge", node_addresses=addresses.get, service_uid=65534)
    assert controller.verifier.verify("POST", PATH, BODY, nobody_headers(PATH, BODY)).uid == 65534


def test_the_caller_a_daemon_vouches_for_is_signed(controller, n1):
    headers = n1.signer.sign("POST", "/api/v1/jobs", BODY, caller=(1000, 100))
    assert controller.verifier.verify("POST", "/api/v1/jobs", BODY, headers).caller == (1000, 100)
    headers = n1.signer.sign("POST", "/api/v1/jobs", BODY, caller=(1000, 100))
    headers["X-Kairos-Caller"] = "0,0"
    with pytest.raises(AuthError, match="made for another request"):
        controller.verifier.verify("POST", "/api/v1/jobs", BODY, headers)


def test_a_key_signed_request_says_the_modes_differ(controller):
    headers = KeySigner("n1", bytes(32)).sign("POST", PATH, BODY)
    with pytest.raises(AuthError, match="same auth setting"):
        controller.verifier.verify("POST", PATH, BODY, headers)


def test_a_munged_that_does_not_answer_is_not_the_senders_fault(tmp_path, n1):
    verifier = MungeVerifier(lambda sender: None, socket=str(tmp_path / "absent.socket"))
    with pytest.raises(TrustUnavailable, match="cannot check MUNGE credentials"):
        verifier.verify("POST", PATH, BODY, n1.signer.sign("POST", PATH, BODY))
    with pytest.raises(TrustUnavailable, match="cannot sign with MUNGE"):
        MungeSigner("n1", socket=str(tmp_path / "absent.socket")).sign("POST", PATH, BODY)


class TestAnotherHostsMunged:
    """A second munged, ``--origin 10.99.0.5``, stands for node n3's host."""

    def test_its_credentials_carry_its_origin(self, other_munged):
        decoded = libmunge.decode(libmunge.encode(b"x", socket=other_munged))
        assert (decoded.origin, decoded.payload, decoded.uid) == (OTHER_ORIGIN, b"x", 0)

    def test_its_node_is_believed_and_cannot_speak_for_another(self, other_munged, controller):
        n3 = node_trust("n3", auth="munge", munge_socket=other_munged)
        assert controller.verifier.verify("POST", PATH, BODY, n3.signer.sign("POST", PATH, BODY)).addr == OTHER_ORIGIN
        as_n1 = MungeSigner("n1", socket=other_munged).sign("POST", PATH, BODY)
        with pytest.raises(AuthError, match=f"origin in its credential is {OTHER_ORIGIN}"):
            controller.verifier.verify("POST", PATH, BODY, as_n1)

    def test_its_node_verifies_the_controller_with_its_own_munged(self, other_munged, controller, here):
        n3 = node_trust("n3", auth="munge", munge_socket=other_munged, controller_addresses=here)
        headers = controller.signer("n3").sign("POST", "/node/v1/jobs/5/cancel", b"")
        assert n3.verifier.verify("POST", "/node/v1/jobs/5/cancel", b"", headers).sender == "controller"
        with pytest.raises(AuthError, match="replayed"):
            n3.verifier.verify("POST", "/node/v1/jobs/5/cancel", b"", headers)
