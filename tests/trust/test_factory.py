"""Choosing the mode from the ``auth`` setting, and what the package costs to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kairos.trust import TrustUnavailable, controller_trust, libmunge, munge_status, node_trust


@pytest.fixture
def dead_socket(tmp_path) -> str:
    return str(tmp_path / "absent.socket")


def _library_missing() -> bool:
    try:
        libmunge.library()
    except OSError:
        return True
    return False


#: What MUNGE's absence is blamed on: the library where it is not installed, else the
#: daemon that does not answer on the socket given.
NOT_THERE = "cannot be loaded .*install MUNGE" if _library_missing() else "munged does not answer.*start it"


def test_auto_is_munge_where_munge_works(system_munge, cluster_key_file):
    assert controller_trust(auth="auto", key_file=cluster_key_file).mode == "munge"
    assert node_trust("n1").mode == "munge"


def test_auto_falls_back_to_the_key_file(dead_socket, cluster_key_file, node_key_files):
    assert controller_trust(key_file=cluster_key_file, munge_socket=dead_socket).mode == "key"
    assert node_trust("n1", key_file=node_key_files["n1"], munge_socket=dead_socket).mode == "key"


def test_auto_without_munge_or_key_says_both(dead_socket):
    with pytest.raises(TrustUnavailable, match=f"MUNGE is not usable .*{NOT_THERE}.* no key file"):
        controller_trust(munge_socket=dead_socket)


def test_munge_required_but_not_usable_says_why(dead_socket):
    with pytest.raises(TrustUnavailable, match=f"auth = munge, but MUNGE is not usable: .*{NOT_THERE}"):
        node_trust("n1", auth="munge", munge_socket=dead_socket)


def test_key_mode_needs_a_key_file():
    with pytest.raises(TrustUnavailable, match="needs a key file"):
        controller_trust(auth="key")


def test_key_mode_is_chosen_even_where_munge_works(cluster_key_file):
    assert controller_trust(auth="key", key_file=cluster_key_file).mode == "key"


def test_invalid_settings_are_refused(cluster_key_file):
    with pytest.raises(ValueError, match="invalid auth 'kerberos'"):
        controller_trust(auth="kerberos", key_file=cluster_key_file)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid sender name"):
        node_trust("n1 n2", auth="key", key_file=cluster_key_file)


def test_munge_status_names_the_socket(dead_socket):
    status = munge_status(dead_socket)
    assert not status.usable
    if _library_missing():
        assert "libmunge.so.2 cannot be loaded" in status.reason
    else:
        assert dead_socket in status.reason


def test_key_mode_does_not_load_ctypes():
    """Commands may import the package: its shared-key half is hashlib and hmac only."""
    code = ("import sys; from kairos.trust import KeySigner, KeyVerifier, read_key, AuthError; "
            "assert 'ctypes' not in sys.modules, 'ctypes loaded'")
    subprocess.run([sys.executable, "-c", code], check=True)
