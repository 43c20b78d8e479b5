"""Waiting for a controller that does not answer (``kairos.cli.slurm._patience``)."""

from __future__ import annotations

import signal
import time

import pytest

from kairos.cli.client import ApiError
from kairos.cli.slurm._patience import patiently

UNANSWERED = ApiError("the controller does not answer", 502)


class _Signals:
    """Signals that come on the given waits (1-based), else none."""

    def __init__(self, on_wait: dict[int, list[int]] | None = None) -> None:
        self.on_wait = on_wait or {}
        self.waits = 0

    def wait(self, timeout: float) -> list[int]:
        time.sleep(0.01)  # the pauses, shortened
        self.waits += 1
        return self.on_wait.get(self.waits, [])


def _asks(*answers):
    """A call that raises or returns each of ``answers`` in turn; its call count."""
    calls = []

    def ask():
        answer = answers[len(calls)]
        calls.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return answer
    return ask, calls


def test_asks_again_until_the_controller_answers_and_says_so_once(capsys):
    ask, calls = _asks(UNANSWERED, ApiError("gone", 0), "done")
    assert patiently(ask, prog="srun", signals=_Signals(), stopping={signal.SIGINT}) == "done"
    assert len(calls) == 3
    assert capsys.readouterr().err == ("srun: error: the controller does not answer; "
                                       "retrying for up to 60 s\n")


def test_a_refusal_is_not_waited_on(capsys):
    ask, calls = _asks(ApiError("Requested node configuration is not available", 400))
    with pytest.raises(ApiError, match="not available"):
        patiently(ask, prog="srun", signals=_Signals(), stopping={signal.SIGINT})
    assert len(calls) == 1 and capsys.readouterr().err == ""


def test_the_wait_ends_with_its_time_or_a_stopping_signal():
    ask, _ = _asks(*[UNANSWERED] * 100)
    began = time.monotonic()
    with pytest.raises(ApiError):
        patiently(ask, prog="srun", signals=_Signals(), stopping={signal.SIGINT}, quiet=True,
                  wait=0.05)
    assert time.monotonic() - began < 5
    ask, calls = _asks(*[UNANSWERED] * 100)
    signals = _Signals({2: [signal.SIGUSR1], 3: [signal.SIGINT]})
    with pytest.raises(ApiError):
        patiently(ask, prog="srun", signals=signals, stopping={signal.SIGINT}, quiet=True)
    assert len(calls) == 3  # SIGUSR1 did not stop it, SIGINT did
