"""Bundles of signed requests: each part is checked as if it had come alone."""

from __future__ import annotations

import pytest

from kairos.trust import AuthError, controller_trust, node_trust
from kairos.trust.bundle import MAX_PARTS, check_part, parts_of, sign_part

PATH = "/api/v1/cluster/heartbeat"


@pytest.fixture
def controller(cluster_key_file):
    return controller_trust(auth="key", key_file=cluster_key_file)


@pytest.fixture
def nodes(node_key_files):
    return {name: node_trust(name, auth="key", key_file=node_key_files[name])
            for name in ("n1", "n2")}


def test_each_part_proves_its_own_sender(controller, nodes):
    bundle = {"parts": [sign_part(nodes[n].signer, PATH, b'{"running": []}') for n in ("n1", "n2")]}
    checked = [check_part(controller.verifier, p, peer_addr="10.0.0.7") for p in parts_of(bundle)]
    assert [(c.identity.sender, c.path, c.body) for c in checked] == [
        ("n1", PATH, b'{"running": []}'), ("n2", PATH, b'{"running": []}')]


def test_a_part_replayed_or_changed_is_refused(controller, nodes):
    part = sign_part(nodes["n1"].signer, PATH, b'{"running": [1]}')
    check_part(controller.verifier, part)
    with pytest.raises(AuthError, match="replayed"):
        check_part(controller.verifier, part)
    changed = {**sign_part(nodes["n1"].signer, PATH, b'{"running": [1]}'), "body": '{"running": [2]}'}
    with pytest.raises(AuthError, match="bad signature"):
        check_part(controller.verifier, changed)
    elsewhere = {**sign_part(nodes["n1"].signer, PATH, b"{}"), "path": "/api/v1/cluster/events"}
    with pytest.raises(AuthError, match="bad signature"):
        check_part(controller.verifier, elsewhere)


def test_a_node_cannot_sign_a_part_as_another(controller, nodes):
    part = sign_part(nodes["n1"].signer, PATH, b"{}")
    part["headers"]["X-Kairos-Sender"] = "n2"
    with pytest.raises(AuthError, match="bad signature"):
        check_part(controller.verifier, part)


def test_controller_parts_are_checked_by_each_node_with_its_own_key(controller, nodes):
    part = sign_part(controller.signer("n1"), "/node/v1/n1/commands", b'{"commands": []}')
    assert check_part(nodes["n1"].verifier, part).identity.sender == "controller"
    with pytest.raises(AuthError, match="bad signature"):
        check_part(nodes["n2"].verifier, sign_part(controller.signer("n1"), "/x", b""))


@pytest.mark.parametrize("bundle, message", [
    ([], "a bundle is"),
    ({"parts": "no"}, "a bundle is"),
    ({"parts": [{}] * (MAX_PARTS + 1)}, f"at most {MAX_PARTS}"),
])
def test_malformed_bundles_say_what_is_expected(bundle, message):
    with pytest.raises(ValueError, match=message):
        parts_of(bundle)


def test_a_malformed_part_is_a_value_error(controller):
    with pytest.raises(ValueError, match="path"):
        check_part(controller.verifier, {"path": PATH, "body": 3, "headers": {}})
