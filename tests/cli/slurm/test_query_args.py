"""Command lines of squeue, scancel, scontrol, sinfo, sacct, sprio and sshare: Slurm's
option syntax, the filters they send to the controller, and Slurm's error messages
(copied from the 22.05 peer) with exit status 1.

Parsing is tested on each command's ``parse_args``; ``main`` is run against a stand-in
for the controller's client (``kairos.cli.client.connect`` patched), which records the
calls and answers with canned JobInfo dicts.
"""

from __future__ import annotations

import os
import pwd
from datetime import datetime

import pytest

from kairos.cli import client as client_module
from kairos.cli.slurm import sacct, scancel, scontrol, sinfo, sprio, squeue, sshare
from kairos.cli.slurm._query import UsageError, parse_job_ids
from kairos.core.jobs import JobState
from kairos.model import LiveJob
from kairos.slurm.output.squeue import SQUEUE_DEFAULT_STATES

ME = pwd.getpwuid(os.getuid()).pw_name
MY_UID = str(os.getuid())


def usage_error(parse, argv, *args) -> str:
    with pytest.raises(UsageError) as error:
        parse(argv, *args)
    return str(error.value)


# --- shared syntax ---------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["-u", ME], [f"-u{ME}"], [f"--user={ME}"], ["--user", ME],
                                  ["-u", MY_UID], [f"--users={ME},{ME}"]])
def test_option_spellings(argv):
    assert set(squeue.parse_args(argv, {}).users) == {ME}


def test_unknown_options_get_getopts_words():
    assert usage_error(squeue.parse_args, ["--foo"], {}) == (
        "squeue: unrecognized option '--foo'\nTry \"squeue --help\" for more information")
    assert usage_error(squeue.parse_args, ["-x"], {}) == (
        "squeue: invalid option -- 'x'\nTry \"squeue --help\" for more information")
    assert usage_error(squeue.parse_args, ["foo"], {}).startswith(
        "squeue: error: Unrecognized option: foo\n")
    assert usage_error(sinfo.parse_args, ["--foo"], {}).startswith(
        "sinfo: unrecognized option '--foo'\n")
    assert usage_error(sacct.parse_args, ["--foo=1"]).startswith(
        "sacct: unrecognized option '--foo=1'\n")


def test_missing_values_name_the_option_as_typed():
    assert usage_error(squeue.parse_args, ["-u"], {}).startswith(
        "squeue: option requires an argument -- 'u'\n")
    assert usage_error(squeue.parse_args, ["--user"], {}).startswith(
        "squeue: option '--user' requires an argument\n")


def test_job_id_lists_expand_array_ranges():
    assert parse_job_ids(["12", "12_3", "13_[1-3,7]"], prog="squeue") == [
        "12", "12_3", "13_1", "13_2", "13_3", "13_7"]
    with pytest.raises(UsageError, match="squeue: error: Invalid job id: 1x"):
        parse_job_ids(["1x"], prog="squeue")


# --- squeue ----------------------------------------------------------------------------

def test_squeue_defaults():
    options = squeue.parse_args([], {})
    assert options.users is None and options.ids is None
    assert options.states == SQUEUE_DEFAULT_STATES
    assert options.fmt is None and options.sort == "P,t,-p" and options.header
    assert not options.needs_forecast


def test_squeue_filters():
    options = squeue.parse_args(["-tpd,R", "-p", "gpu,cpu", "-n", "train", "-j12,13_[1-2]",
                                 "-A", "lab", "-q", "high", "--me"], {})
    assert options.states == {JobState.PENDING, JobState.RUNNING}
    assert options.partitions == ["gpu", "cpu"] and options.names == ["train"]
    assert options.ids == ["12", "13_1", "13_2"]
    assert options.accounts == ["lab"] and options.qos == ["high"]
    assert options.users == [ME]
    assert squeue.parse_args(["-t", "all"], {}).all_states


def test_squeue_start_long_sort_and_environment():
    start = squeue.parse_args(["--start"], {})
    assert start.states == {JobState.PENDING} and start.sort == "S"
    assert start.fmt.startswith("%.18i %.9P %.8j %.8u %.2t %.19S") and start.needs_forecast
    assert squeue.parse_args(["-l"], {}).fmt == "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
    assert squeue.parse_args(["-S", "-p,i"], {}).sort == "-p,i"
    assert squeue.parse_args(["--sort=-t"], {}).sort == "-t"
    env = {"SQUEUE_FORMAT": "%i %j", "SQUEUE_SORT": "i"}
    assert squeue.parse_args([], env).fmt == "%i %j"
    assert squeue.parse_args(["-o", "%i"], env).fmt == "%i"
    assert squeue.parse_args([], env).sort == "i"
    assert squeue.parse_args([], {"SQUEUE_FORMAT2": "JobID,Name"}).fields == "JobID,Name"
    assert squeue.parse_args(["-O", "JobID,StartTime"], {}).needs_forecast
    assert not squeue.parse_args(["-h"], {}).header


@pytest.mark.parametrize("argv, message", [
    (["-t", "bogus"], "squeue: error: Invalid job state specified: bogus\n"
                      "squeue: error: Valid job states include: PENDING,RUNNING,"),
    (["-o", "%-10j"], "squeue: error: Invalid job format specification: -"),
    (["-O", "JobID,foo"], "squeue: error: Invalid job format specification: foo"),
    (["-j", "abc"], "squeue: error: Invalid job id: abc"),
    (["-u", "no-such-user-kairos"], "squeue: error: Invalid user: no-such-user-kairos"),
    (["--sort", "z"], "squeue: error: Invalid sort specification: z"),
])
def test_squeue_errors(argv, message):
    assert usage_error(squeue.parse_args, argv, {}).startswith(message)


# --- scancel ---------------------------------------------------------------------------

def test_scancel_ids_filters_and_signals():
    options = scancel.parse_args(["12", "13_[1-2],14", "-s", "usr1", "-b"])
    assert options.ids == ["12", "13_1", "13_2", "14"]
    assert options.signal == 10 and options.batch
    assert scancel.parse_args(["--signal=SIGKILL", "5"]).signal == 9
    assert scancel.parse_args(["-s", "2", "5"]).signal == 2
    options = scancel.parse_args(["-u", ME, "-t", "pd", "-p", "gpu", "-n", "x"])
    assert options.ids is None and options.users == [ME]
    assert options.states == ["PENDING"] and options.partitions == ["gpu"]
    assert options.names == ["x"]


def test_scancel_steps_are_named_jobid_dot_stepid():
    options = scancel.parse_args(["12.0", "13", "14_2.3,15"])
    assert options.steps == [("12", 0), ("14_2", 3)] and options.ids == ["13", "15"]
    options = scancel.parse_args(["12.1"])
    assert (options.ids, options.steps) == (None, [("12", 1)])


@pytest.mark.parametrize("argv, message", [
    ([], "scancel: error: No job identification provided"),
    (["12.x"], "scancel: error: Invalid job id 12.x"),
    (["-s", "USR1"], "scancel: error: No job identification provided"),
    (["abc"], "scancel: error: Invalid job id abc"),
    (["-s", "FOO", "5"], "Unknown job signal: FOO"),
    (["-t", "CD"], "Invalid job state specified: CD\n"
                   "Valid job states are PENDING, RUNNING, and SUSPENDED"),
    (["-u", "no-such-user-kairos"], "scancel: error: Invalid user name: no-such-user-kairos"),
    (["-i", "5"], "scancel: error: --interactive is not supported"),
    (["--foo"], "scancel: unrecognized option '--foo'"),
])
def test_scancel_errors(argv, message):
    assert usage_error(scancel.parse_args, argv).startswith(message)


# --- scontrol --------------------------------------------------------------------------

def test_scontrol_commands():
    show = scontrol.parse_args(["show", "job", "12_3"])
    assert (show.action, show.entity, show.name) == ("show", "job", "12_3")
    nodes = scontrol.parse_args(["-o", "show", "nodes"])
    assert (nodes.entity, nodes.name, nodes.oneliner) == ("node", None, True)
    assert scontrol.parse_args(["show", "partition", "gpu", "-o"]).oneliner
    hold = scontrol.parse_args(["hold", "12,13", "14_[1-2]"])
    assert (hold.action, hold.ids) == ("hold", ["12", "13", "14_1", "14_2"])
    assert scontrol.parse_args(["uhold", "5"]).action == "hold"
    assert scontrol.parse_args(["requeue", "5"]).action == "requeue"
    update = scontrol.parse_args(["update", "JobId=12", "TimeLimit=1-02:00:00",
                                  "priority=5", "Nice=-5", "JobName=x"])
    assert update.ids == ["12"]
    assert update.updates == {"time_limit": 93600.0, "priority": 5, "nice": -5, "name": "x"}
    assert scontrol.parse_args(["update", "jobid=7", "TimeLimit=UNLIMITED"]).updates == {
        "time_limit": None}


@pytest.mark.parametrize("argv, message", [
    (["frob"], "invalid keyword: frob"),
    (["show"], "too few arguments for keyword:show"),
    (["show", "foo"], "invalid entity:foo for keyword:show "),
    (["hold"], "too few arguments for keyword:hold"),
    (["update", "TimeLimit=5"], "No valid entity in update command\nInput line must "
                                "include \"NodeName\", \"PartitionName\", \"Reservation\", "
                                "\"JobId\", or \"SlurmctldDebug\""),
    (["update", "JobId=1", "Foo=1"], "Update of this parameter is not supported: Foo=1\n"
                                     "Request aborted"),
    (["update", "JobId=1", "TimeLimit=abc"], "scontrol: error: Invalid TimeLimit value"),
    (["update", "JobId=1", "Nice=x"], "scontrol: error: Invalid Nice value: x"),
    (["--foo"], "scontrol: unrecognized option '--foo'"),
])
def test_scontrol_errors(argv, message):
    assert usage_error(scontrol.parse_args, argv).startswith(message)


# --- sinfo -----------------------------------------------------------------------------

def test_sinfo_options():
    options = sinfo.parse_args(["-N", "-l", "-p", "gpu", "-n", "n[01-02]", "-t", "idle,mix"],
                               {})
    assert options.node_oriented and options.long and options.partitions == ["gpu"]
    assert options.nodes == ["n01", "n02"] and options.states == {"idle", "mixed"}
    assert sinfo.parse_args(["-s"], {}).summarize
    assert not sinfo.parse_args(["-h"], {}).header
    assert sinfo.parse_args([], {"SINFO_FORMAT": "%P", "SINFO_PARTITION": "gpu"}) == \
        sinfo.SinfoOptions(fmt="%P", partitions=["gpu"])
    assert usage_error(sinfo.parse_args, ["-o", "%Z"], {}) == \
        "sinfo: error: Invalid job format specification: Z"
    assert usage_error(sinfo.parse_args, ["-t", "sleepy"], {}).startswith(
        "sinfo: error: Invalid node state specified: sleepy")


# --- sacct -----------------------------------------------------------------------------

NOON = datetime(2026, 11, 25, 12, 0, 0).timestamp()
MIDNIGHT = datetime(2026, 11, 25).timestamp()


def test_sacct_default_window_and_fields():
    options = sacct.parse_args([], now=NOON, environ={})
    assert (options.start, options.end) == (MIDNIGHT, NOON)
    assert options.fields == "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
    assert options.steps and options.header and not options.parsable2


def test_sacct_window_follows_jobs_and_states():
    with_jobs = sacct.parse_args(["-j", "12,13_[1-2]"], now=NOON, environ={})
    assert with_jobs.start == 0 and with_jobs.ids == ["12", "13_1", "13_2"]
    with_states = sacct.parse_args(["-s", "f,CA"], now=NOON, environ={})
    assert with_states.start == NOON and with_states.states == ["CANCELLED", "FAILED"]
    explicit = sacct.parse_args(["-S", "2026-11-20", "-E", "2026-11-21T08:00"], now=NOON,
                                environ={})
    assert explicit.start == datetime(2026, 11, 20).timestamp()
    assert explicit.end == datetime(2026, 11, 21, 8).timestamp()


@pytest.mark.parametrize("text, expected", [
    ("08:00", datetime(2026, 11, 25, 8)), ("13:30", datetime(2026, 11, 24, 13, 30)),
    ("today", datetime(2026, 11, 25)), ("midnight", datetime(2026, 11, 25)),
    ("1120", datetime(2026, 11, 20)), ("112025", datetime(2025, 11, 20)),
    ("11/20-10:30", datetime(2026, 11, 20, 10, 30)), ("12.01", datetime(2025, 12, 1)),
    ("now-2hours", datetime(2026, 11, 25, 10)),
])
def test_sacct_times_are_read_as_past_moments(text, expected):
    assert sacct.parse_time(text, NOON) == expected.timestamp()


def test_sacct_output_options():
    options = sacct.parse_args(["-X", "-n", "-P", "-o", "JobID,State%20", "-a"], now=NOON,
                               environ={})
    assert not options.steps and not options.header and options.parsable2
    assert options.fields == "JobID,State%20" and options.all_users
    assert sacct.parse_args(["-p"], now=NOON, environ={}).parsable
    assert sacct.parse_args(["-b"], now=NOON, environ={}).fields == "JobID,State,ExitCode"
    assert sacct.parse_args([], now=NOON, environ={"SACCT_FORMAT": "jobid,user"}).fields \
        == "jobid,user"


def test_sacct_errors():
    assert usage_error(sacct.parse_args, ["-o", "JobID,bogus"]) == \
        'sacct: error: Invalid field requested: "bogus"'
    assert usage_error(sacct.parse_args, ["-s", "zz"]).startswith(
        "sacct: error: Invalid job state specified: zz")
    assert usage_error(sacct.parse_args, ["-S", "yesterdayish"]).startswith(
        "sacct: error: Invalid time specification: yesterdayish")


# --- sprio and sshare ------------------------------------------------------------------

def test_sprio_options():
    options = sprio.parse_args(["-j12,13", "-u", ME, "-l", "-h"], {})
    assert options.ids == ["12", "13"] and options.users == [ME]
    assert options.long and not options.header
    assert sprio.parse_args([], {"SPRIO_FORMAT": "%i %Y"}).fmt == "%i %Y"
    assert usage_error(sprio.parse_args, ["-n"], {}).startswith(
        "sprio: error: normalized factors (-n/--norm) are not available")
    assert usage_error(sprio.parse_args, ["-o", "%z"], {}) == \
        "sprio: error: Invalid job format specification: z"


def test_sshare_options():
    assert sshare.parse_args([]).users == [ME]
    everyone = sshare.parse_args(["-a", "-l", "-n", "-P"])
    assert everyone.users is None and everyone.long and not everyone.header
    assert everyone.parsable2
    assert sshare.parse_args(["-u", ME, "-p"]).parsable
    assert usage_error(sshare.parse_args, ["--foo"]).startswith(
        "sshare: unrecognized option '--foo'")


# --- main against a stand-in client ----------------------------------------------------

def running_job(job_id: int, **fields) -> dict:
    info = dict(job_id=job_id, name="train", user=ME, state="RUNNING", partition="gpu",
                priority=100, submit_time=NOON - 60, start_time=NOON - 30, nodes=1, cpus=4,
                node_list="n01", work_dir="/w", exit_code=0, signal=0)
    info.update(fields)
    return info


class FakeClient:
    """Records what the commands ask the controller and answers from canned data."""

    def __init__(self, jobs=(), error: str | None = None):
        self.jobs_data = list(jobs)
        self.calls: list[tuple[str, dict]] = []
        self.error = error

    def _record(self, name, **kwargs):
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise client_module.ApiError(self.error, 404)

    def jobs(self, **kwargs):
        self._record("jobs", **kwargs)
        return self.jobs_data

    def job_table(self, fields, **kwargs):
        """As the controller's columnar layout: the canned jobs' ``fields``."""
        self._record("job_table", fields=list(fields), **kwargs)
        wire = [LiveJob.from_wire(job).to_wire() for job in self.jobs_data]
        return list(fields), [[job[name] for name in fields] for job in wire]

    def job(self, job_id):
        self._record("job", job_id=job_id)
        return self.jobs_data[0]

    def cancel(self, **kwargs):
        self._record("cancel", **kwargs)
        return {"cancelled": kwargs.get("ids") or [], "signalled": []}

    def hold(self, ids):
        self._record("hold", ids=ids)
        return {"done": ids}

    def update(self, job_id, fields):
        self._record("update", job_id=job_id, fields=fields)
        return {}

    def accounting(self, **kwargs):
        self._record("accounting", **kwargs)
        return self.jobs_data


@pytest.fixture
def controller(monkeypatch):
    fake = FakeClient([running_job(12), running_job(13, state="PENDING", reason="Priority",
                                                    start_time=None, node_list=None,
                                                    partition="cpu")])
    monkeypatch.setattr(client_module, "connect", lambda **kwargs: fake)
    return fake


def test_squeue_main_prints_and_passes_filters(controller, capsys):
    assert squeue.main(["-h", "-o", "%i %t %P", "-u", ME, "-p", "gpu,cpu"]) == 0
    assert capsys.readouterr().out == "13 PD cpu\n12 R gpu\n"
    name, kwargs = controller.calls[0]
    assert name == "job_table" and kwargs["users"] == [ME]
    assert set(kwargs["fields"]) >= {"job_id", "state", "partition"}
    assert "name" not in kwargs["fields"]  # not printed, not asked for
    assert kwargs["partitions"] == ["gpu", "cpu"] and not kwargs["all_states"]
    assert kwargs["states"] == ["COMPLETING", "PENDING", "RUNNING"]


def test_squeue_main_filters_states_itself(controller, capsys):
    assert squeue.main(["-h", "-t", "R", "-o", "%i"]) == 0
    assert capsys.readouterr().out == "12\n"


def test_squeue_main_single_unknown_job_is_an_error(monkeypatch, capsys):
    monkeypatch.setattr(client_module, "connect", lambda **kwargs: FakeClient([]))
    assert squeue.main(["-j", "999"]) == 1
    assert capsys.readouterr().err == "slurm_load_jobs error: Invalid job id specified\n"


def test_usage_errors_exit_1_without_connecting(monkeypatch, capsys):
    def refuse(**kwargs):
        raise AssertionError("a usage error must not reach the controller")
    monkeypatch.setattr(client_module, "connect", refuse)
    assert squeue.main(["--foo"]) == 1
    assert capsys.readouterr().err == (
        "squeue: unrecognized option '--foo'\nTry \"squeue --help\" for more information\n")
    assert scancel.main([]) == 1
    assert capsys.readouterr().err == "scancel: error: No job identification provided\n"


def test_controller_errors_print_slurm_style(monkeypatch, capsys):
    monkeypatch.setattr(client_module, "connect",
                        lambda **kwargs: FakeClient(error="job 99 is not yours"))
    assert scontrol.main(["hold", "99"]) == 1
    assert capsys.readouterr().err == "scontrol: error: job 99 is not yours\n"
    assert scontrol.main(["show", "job", "99"]) == 1
    assert capsys.readouterr().err == "slurm_load_jobs error: Invalid job id specified\n"


def test_scancel_and_scontrol_main_send_what_was_asked(controller, capsys):
    assert scancel.main(["12", "13_[1-2]", "--signal=TERM", "-v"]) == 0
    assert controller.calls[-1] == ("cancel", dict(ids=["12", "13_1", "13_2"], users=None,
                                                   names=None, states=None, partitions=None,
                                                   signal=15, batch=False))
    assert "scancel: Terminating job 12" in capsys.readouterr().err
    assert scontrol.main(["update", "JobId=12", "TimeLimit=30"]) == 0
    assert controller.calls[-1] == ("update", dict(job_id="12", fields={"time_limit": 1800.0}))
    assert scontrol.main(["show", "job", "12"]) == 0
    assert capsys.readouterr().out.startswith("JobId=12 JobName=train\n   UserId=")


def test_sacct_main_passes_the_window(controller, capsys):
    assert sacct.main(["-X", "-P", "-n", "-o", "JobID,State", "-j", "12"]) == 0
    assert capsys.readouterr().out == "12|RUNNING\n13|PENDING\n"
    name, kwargs = controller.calls[0]
    assert name == "accounting" and kwargs["ids"] == ["12"] and kwargs["start"] == 0.0


def test_sacct_helpformat_needs_no_controller(monkeypatch, capsys):
    monkeypatch.setattr(client_module, "connect", lambda **kwargs: pytest.fail("connected"))
    assert sacct.main(["-e"]) == 0
    out = capsys.readouterr().out
    assert "JobID" in out and "MaxRSS" in out and "ExitCode" in out
