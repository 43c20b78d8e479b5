"""Job states on the command line: Slurm's codes and names, lists, ``all``, and the
message that lists the valid names."""

from __future__ import annotations

import pytest

from kairos.core.jobs import JobState
from kairos.slurm.output.states import UnknownStateError, parse_states, state_code


@pytest.mark.parametrize("name, code", [
    ("PENDING", "PD"), ("RUNNING", "R"), ("COMPLETING", "CG"), ("COMPLETED", "CD"),
    ("FAILED", "F"), ("CANCELLED", "CA"), ("TIMEOUT", "TO"), ("OUT_OF_MEMORY", "OOM"),
    ("NODE_FAIL", "NF"), ("PREEMPTED", "PR"), ("SUSPENDED", "S"), ("BOOT_FAIL", "BF"),
    ("DEADLINE", "DL"), ("REQUEUED", "RQ"),
])
def test_state_codes_are_slurms(name, code):
    assert state_code(name) == code
    assert JobState.parse(code.lower()) is JobState[name]
    assert JobState.parse(name.lower()).code == code


def test_state_lists_take_codes_names_and_all():
    assert parse_states("pd,RUNNING,cd") == {
        JobState.PENDING, JobState.RUNNING, JobState.COMPLETED}
    assert parse_states("all") == frozenset(JobState)
    with pytest.raises(UnknownStateError, match="Invalid job state specified: bogus"):
        parse_states("pd,bogus")


def test_an_unknown_state_lists_the_valid_names_in_slurms_order():
    with pytest.raises(UnknownStateError) as error:
        parse_states("bogus")
    assert str(error.value).splitlines()[1].startswith(
        "Valid job states include: PENDING,RUNNING,SUSPENDED,COMPLETED,CANCELLED,FAILED,")
