"""Key files: created private, refused when others can read them, node keys derived."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from kairos.trust import AuthError, create_cluster_key, derive_node_key, read_key, write_node_key


def test_a_cluster_key_is_32_random_bytes_in_a_private_file(tmp_path):
    path = tmp_path / "cluster.key"
    key = create_cluster_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert path.read_text() == key.hex() + "\n"
    assert read_key(path) == key
    assert create_cluster_key(tmp_path / "other.key") != key


def test_a_cluster_key_is_never_overwritten(tmp_path):
    path = tmp_path / "cluster.key"
    key = create_cluster_key(path)
    with pytest.raises(FileExistsError, match="never overwritten"):
        create_cluster_key(path)
    assert read_key(path) == key


def test_node_keys_are_hmac_of_the_cluster_key_and_differ_per_node():
    cluster_key = bytes(range(32))
    expected = hmac.new(cluster_key, b"kairos-node:n1", hashlib.sha256).digest()
    assert derive_node_key(cluster_key, "n1") == expected
    assert derive_node_key(cluster_key, "n2") != expected
    assert derive_node_key(bytes(32), "n1") != expected


def test_a_node_key_file_is_replaced_only_when_asked(tmp_path):
    path = tmp_path / "n1.key"
    write_node_key(path, bytes(32))
    with pytest.raises(FileExistsError):
        write_node_key(path, bytes([1]) * 32)
    write_node_key(path, bytes([1]) * 32, overwrite=True)
    assert read_key(path) == bytes([1]) * 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert [p.name for p in tmp_path.iterdir()] == ["n1.key"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_open_to_group_or_others_is_refused_with_the_chmod_hint(cluster_key_file, mode):
    os.chmod(cluster_key_file, mode)
    with pytest.raises(AuthError, match=f"mode {mode:04o}.*chmod 400 {cluster_key_file}"):
        read_key(cluster_key_file)


def test_mode_0600_is_accepted(cluster_key_file):
    os.chmod(cluster_key_file, 0o600)
    assert len(read_key(cluster_key_file)) == 32


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_key_owned_by_another_user_is_refused(cluster_key_file):
    os.chown(cluster_key_file, 65534, -1)
    with pytest.raises(AuthError, match="owned by uid 65534.*chown 0"):
        read_key(cluster_key_file)


def test_a_missing_or_malformed_key_file_says_what_is_wrong(tmp_path):
    with pytest.raises(AuthError, match="no key file at"):
        read_key(tmp_path / "absent.key")
    path = tmp_path / "bad.key"
    path.write_text("not hex\n")
    path.chmod(0o400)
    with pytest.raises(AuthError, match="64 hex digits"):
        read_key(path)


def test_a_link_to_a_key_file_is_checked_by_the_file_it_names(tmp_path, cluster_key_file):
    link = tmp_path / "link.key"
    link.symlink_to(cluster_key_file)
    assert read_key(link) == read_key(cluster_key_file)
    os.chmod(cluster_key_file, 0o644)
    with pytest.raises(AuthError, match="chmod 400"):
        read_key(link)
