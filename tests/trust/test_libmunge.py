"""The ctypes binding, checked against MUNGE's own command-line tools.

The option and error numbers in :mod:`kairos.trust.libmunge` come from ``munge.h``;
these tests show the installed library agrees: a TTL set here is the one ``unmunge``
reads, the TTL, uid and origin decoded here are those ``munge`` and ``unmunge`` see, and
a second decode is the replay error.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from kairos.trust import libmunge
from kairos.trust.libmunge import MungeCode, MungeError

pytestmark = pytest.mark.usefixtures("system_munge")


def unmunge(credential: str) -> dict[str, str]:
    out = subprocess.run(["unmunge", "--metadata=-", "--output=/dev/null"], input=credential,
                         capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^(\w+):\s+(.*)$", out, re.M))


def test_a_credential_made_here_is_read_by_unmunge():
    credential = libmunge.encode(b"hello", ttl=42)
    meta = unmunge(credential)
    assert meta["STATUS"] == "Success (0)"
    assert meta["TTL"] == "42"
    assert meta["LENGTH"] == "5"


def test_a_credential_made_by_munge_is_decoded_here():
    reference = unmunge(subprocess.run(["munge", "-n"], capture_output=True, text=True, check=True).stdout)
    credential = subprocess.run(["munge", "-t", "77", "-s", "payload"], capture_output=True, text=True,
                                check=True).stdout.strip()
    decoded = libmunge.decode(credential)
    assert decoded.payload == b"payload"
    assert decoded.ttl == 77
    assert (decoded.uid, decoded.gid) == (os.geteuid(), os.getegid())
    assert reference["ENCODE_HOST"].endswith(f"({decoded.origin})")
    assert abs(decoded.encode_time - time.time()) < 5


def test_a_credential_decodes_once():
    credential = libmunge.encode(b"")
    libmunge.decode(credential)
    with pytest.raises(MungeError) as refused:
        libmunge.decode(credential)
    assert refused.value.code is MungeCode.CRED_REPLAYED
    assert "Replayed" in str(refused.value)


def test_an_expired_credential_is_refused():
    credential = libmunge.encode(b"", ttl=1)
    time.sleep(2.1)
    with pytest.raises(MungeError) as refused:
        libmunge.decode(credential)
    assert refused.value.code is MungeCode.CRED_EXPIRED


def test_garbage_is_not_a_credential():
    with pytest.raises(MungeError) as refused:
        libmunge.decode("MUNGE:not-a-credential:")
    assert refused.value.code is MungeCode.BAD_CRED
    assert refused.value.code.about_credential


def test_a_missing_socket_is_a_socket_error_not_a_bad_credential(tmp_path):
    with pytest.raises(MungeError) as refused:
        libmunge.encode(b"", socket=str(tmp_path / "absent.socket"))
    assert refused.value.code is MungeCode.SOCKET
    assert not refused.value.code.about_credential
    assert "start it" in libmunge.unusable_reason(str(tmp_path / "absent.socket"))


def test_payloads_are_bytes_as_is():
    payload = bytes(range(256)) * 4
    assert libmunge.decode(libmunge.encode(payload)).payload == payload
