"""GPU requests from --gres and --gpus."""

from __future__ import annotations

import pytest

from kairos.slurm.gres import parse_gpus, parse_gres


@pytest.mark.parametrize("text, request_", [
    ("gpu", [(None, 1)]),
    ("gpu:2", [(None, 2)]),
    ("gpu:a100", [("a100", 1)]),
    ("gpu:a100:2", [("a100", 2)]),
    ("gpu:a100:2,gpu:v100:1", [("a100", 2), ("v100", 1)]),
    ("gres/gpu:1", [(None, 1)]),
    ("none", []),
])
def test_parse_gres(text, request_):
    assert parse_gres(text) == request_


@pytest.mark.parametrize("text, fragment", [
    ("foo:1", "'foo' is not supported"),
    ("gpu:1,nvme:2", "'nvme' is not supported"),
    ("gpu:x:y", "count 'y'"),
    ("gpu:a:b:1", "cannot read 'gpu:a:b:1'"),
    ("gpu:a/b", "type 'a/b'"),
    ("", "empty"),
])
def test_parse_gres_refuses(text, fragment):
    with pytest.raises(ValueError) as error:
        parse_gres(text)
    assert fragment in str(error.value)


@pytest.mark.parametrize("text, request_", [
    ("2", [(None, 2)]), ("a100:2", [("a100", 2)]),
    ("volta:3,kepler:1", [("volta", 3), ("kepler", 1)]),
])
def test_parse_gpus(text, request_):
    assert parse_gpus(text) == request_


@pytest.mark.parametrize("text", ["a:b:c", "a100", "", "x:-1"])
def test_parse_gpus_refuses(text):
    with pytest.raises(ValueError, match="GPU request"):
        parse_gpus(text)
