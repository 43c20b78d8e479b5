"""What workflow tools ask of the query commands beyond a user's everyday use:
``-M/--clusters`` (the Snakemake Slurm plugin runs ``sacct --clusters all``),
``scontrol show config`` (it reads MinJobAge there) and ``sacct -j JOBID.STEP`` (it asks
a failed job's steps for their Reason).

Parsing is tested on ``parse_args``; ``main`` against a stand-in client, and once
against a real controller in a temporary home.
"""

from __future__ import annotations

import re

import pytest

from kairos.cli import client as client_module
from kairos.cli.slurm import sacct, scancel, scontrol, sinfo, squeue
from kairos.cli.slurm._query import UsageError
from kairos.slurm.output.scontrol import config_lines, format_scontrol_config
from tests.cli.slurm.test_query_args import NOON, FakeClient, running_job

OTHER = ("'other' is an invalid entry for --cluster: this Kairos controller runs one "
         "cluster, 'hpc' (use -M hpc, -M all, or leave -M out)")


class ClusterClient(FakeClient):
    """The stand-in client of a controller running cluster ``hpc``, with steps."""

    def status(self):
        self._record("status")
        return {"cluster": "hpc"}

    def partitions(self):
        self._record("partitions")
        return [{"name": "local", "default": True, "nodes": ["n01"], "state": "up",
                 "max_time": None}]

    def nodes(self):
        self._record("nodes")
        return [{"name": "n01", "state": "idle", "cpus": 4, "alloc_cpus": 0,
                 "mem_mib": 1000, "partitions": ["local"]}]

    def accounting_with_steps(self, **kwargs):
        self._record("accounting_with_steps", **kwargs)
        jobs = [dict(job) for job in self.jobs_data]
        jobs[0]["steps"] = [
            dict(job_id=12, step_id=0, name="python", state="FAILED", exit_code=1,
                 node_list="n01", start_time=NOON - 20, end_time=NOON - 10),
            dict(job_id=12, step_id=1, name="sh", state="COMPLETED", node_list="n01",
                 start_time=NOON - 10, end_time=NOON - 5)]
        return jobs

    def config(self):
        self._record("config")
        return FACTS


FACTS = {"cluster_name": "hpc", "version": "0.1.0", "boot_time": NOON, "next_job_id": 42,
         "min_job_age": 300.0, "kill_wait": 30.0, "inactive_limit": 60.0,
         "max_array_size": 1001, "policy": "easy", "order": "multifactor",
         "controller_host": "head", "controller_user": "root", "controller_uid": 0,
         "controller_address": None, "controller_port": None, "node_timeout": None,
         "return_to_service": None}


@pytest.fixture
def controller(monkeypatch):
    fake = ClusterClient([running_job(12, state="FAILED", end_time=NOON - 5, exit_code=1),
                          running_job(13)])
    monkeypatch.setattr(client_module, "connect", lambda **kwargs: fake)
    return fake


def called(fake) -> list[str]:
    return [name for name, _ in fake.calls]


# --- -M/--clusters ---------------------------------------------------------------------

@pytest.mark.parametrize("parse, argv", [
    (squeue.parse_args, ["-M", "all"]), (sinfo.parse_args, ["--clusters=all"]),
    (sacct.parse_args, ["--clusters", "all"]), (scancel.parse_args, ["-Mall", "12"]),
    (scontrol.parse_args, ["-M", "all", "show", "job"])])
def test_every_query_command_takes_clusters(parse, argv):
    assert parse(argv).clusters == ["all"]


def test_squeue_and_sinfo_print_slurms_cluster_line_first(controller, capsys):
    assert squeue.main(["-M", "all", "-h", "-o", "%i %t"]) == 0
    assert capsys.readouterr().out == "CLUSTER: hpc\n13 R\n"
    assert squeue.main(["--clusters=HPC", "-o", "%i"]) == 0  # names are case-blind
    assert capsys.readouterr().out.startswith("CLUSTER: hpc\nJOBID\n")
    assert sinfo.main(["-M", "hpc", "-h", "-o", "%P"]) == 0
    assert capsys.readouterr().out == "CLUSTER: hpc\nlocal*\n"
    assert squeue.main(["-h", "-o", "%i"]) == 0  # without -M: no cluster line
    assert capsys.readouterr().out == "13\n"


def test_sacct_clusters_all_prints_the_one_cluster_as_usual(controller, capsys):
    argv = ["-X", "--parsable2", "--noheader", "--format=JobIdRaw,State", "--starttime",
            "2026-11-28T05:00", "--endtime", "now", "--name", "train"]
    assert sacct.main(["--clusters", "all", *argv]) == 0
    with_clusters = capsys.readouterr().out
    assert sacct.main(argv) == 0
    assert with_clusters == capsys.readouterr().out == "12|FAILED\n13|RUNNING\n"
    assert sacct.main(["-L", *argv]) == 0
    assert capsys.readouterr().out == with_clusters


@pytest.mark.parametrize("command, argv", [
    (squeue, ["-M", "other"]), (sinfo, ["-M", "hpc,other"]), (sacct, ["-M", "other"]),
    (scancel, ["-M", "other", "12"]), (scontrol, ["-M", "other", "hold", "12"])])
def test_another_cluster_is_refused_before_anything_is_done(controller, capsys, command, argv):
    assert command.main(argv) == 1
    assert capsys.readouterr().err == f"{command.PROG}: error: {OTHER}\n"
    assert called(controller) == ["status"]  # nothing asked, cancelled or held


# --- sacct -j JOBID.STEP ---------------------------------------------------------------

def test_sacct_names_steps_by_job_dot_step():
    options = sacct.parse_args(["-j", "12.0,13,14.batch"])
    assert options.ids == ["13", "12", "14"]
    assert options.named_steps == {"12.0", "14.batch"} and options.plain_ids == {"13"}
    with pytest.raises(UsageError, match="Invalid job id: 12.x"):
        sacct.parse_args(["-j", "12.x"])


def test_sacct_prints_only_the_steps_named(controller, capsys):
    assert sacct.main(["-j", "12.0", "--format=JobID,State,ExitCode", "-P", "-n"]) == 0
    assert capsys.readouterr().out == "12.0|FAILED|1:0\n"
    assert sacct.main(["-j", "12.batch,12.1", "-o", "JobID", "-P", "-n"]) == 0
    assert capsys.readouterr().out == "12.batch\n12.1\n"
    assert sacct.main(["-j", "12.7", "--format=Reason", "--noheader"]) == 0
    assert capsys.readouterr().out == ""  # no such step: nothing, as in Slurm
    assert sacct.main(["-j", "12.0,13", "-o", "JobID", "-P", "-n"]) == 0
    assert capsys.readouterr().out == "12.0\n13\n13.batch\n"
    assert controller.calls[-1][1]["ids"] == ["13", "12"]


# --- scontrol show config --------------------------------------------------------------

@pytest.mark.parametrize("word", ["config", "CONFIG", "conf", "c"])
def test_scontrol_show_config_takes_slurms_prefixes(word):
    assert scontrol.parse_args(["show", word]).entity == "config"


def test_scontrol_show_config_refuses_what_slurm_refuses():
    with pytest.raises(UsageError, match="invalid entity:configu for keyword:show"):
        scontrol.parse_args(["show", "configu"])


def test_config_layout_is_slurms(controller, capsys):
    assert scontrol.main(["show", "config"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert re.fullmatch(r"Configuration data as of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", lines[0])
    body = lines[1:lines.index("")]
    assert all(re.fullmatch(r"[A-Za-z_\[\]0-9]{1,23} +=( .*)?", line) for line in body)
    assert all(line.index("=") == 24 for line in body)  # keys padded to 23 columns
    assert lines[-2:] == ["Slurmctld(primary) at head is UP", ""]
    values = {key.rstrip(): value for key, value in (line.split(" = ", 1) for line in body)}
    assert values["ClusterName"] == "hpc" and values["MinJobAge"] == "300 sec"
    assert values["SLURM_VERSION"] == "22.05 (kairos 0.1.0)"
    assert values["NEXT_JOB_ID"] == "42" and values["SchedulerType"] == "sched/backfill"
    assert "SlurmctldPort" not in values  # the Unix socket only, on one machine


def test_config_states_the_controllers_settings():
    keys = dict(config_lines({**FACTS, "policy": "fcfs", "order": "sjf", "kill_wait": 1.0}))
    assert keys["SchedulerType"] == "sched/builtin" and keys["PriorityType"] == "priority/sjf"
    assert keys["KillWait"] == "1 sec"
    head = dict(config_lines({**FACTS, "controller_address": "10.0.0.1",
                              "controller_port": 6820, "node_timeout": 30.0,
                              "return_to_service": 1}))
    assert head["SlurmctldHost[0]"] == "head(10.0.0.1)" and head["SlurmctldPort"] == "6820"
    assert head["SlurmdTimeout"] == "30 sec" and head["ReturnToService"] == "1"
    assert format_scontrol_config(FACTS, now=NOON).count("\n") == len(config_lines(FACTS)) + 3


def test_against_a_real_controller(tmp_path):
    """The route, the client and the commands together, as the plugin runs them."""
    from kairos.testing.home import KairosHome

    live = KairosHome.create(tmp_path / "home", tmp_path / "work",
                             extra_config='cluster_name = "hpc"\n')
    try:
        shown = live.run("scontrol", "show", "config").stdout
        assert re.search(r"^ClusterName +?= hpc$", shown, re.M)
        assert re.search(r"^MinJobAge +?= 300 sec$", shown, re.M)
        assert re.search(r"^KillWait +?= 1 sec$", shown, re.M)  # the test home's setting
        job = live.submit("--wrap", "true", "--job-name", "w")
        live.wait(job)
        assert live.run("squeue", "-M", "all", "-h", "-t", "all", "-o", "%i").stdout == (
            f"CLUSTER: hpc\n{job}\n")
        assert live.run("sacct", "-X", "-P", "-n", "--clusters", "all", "--name", "w",
                        "-o", "JobIDRaw,State").stdout == f"{job}|COMPLETED\n"
        refused = live.run("sacct", "-M", "other", check=False)
        assert refused.returncode == 1 and OTHER in refused.stderr
    finally:
        live.stop()
