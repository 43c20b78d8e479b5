"""``scontrol show``'s job, node and partition records."""

from __future__ import annotations

from kairos.slurm.output.scontrol import (
    format_scontrol_job, format_scontrol_node, format_scontrol_partition,
)
from tests.slurm.output.conftest import NOW, PEER_NODE, PEER_PARTITION, at, job, pending


def test_scontrol_job_record_has_slurms_layout():
    row = job(24, cpus=2, cpus_per_task=2, submit_time=at(2026, 11, 25, 3, 48, 41), eligible_time=at(2026, 11, 25, 3, 48, 41),
              start_time=at(2026, 11, 25, 3, 48, 50), command=None)
    text = format_scontrol_job(row, now=NOW)
    record = text.split("\n")
    assert text.endswith("\n\n")
    assert record[:6] == [
        "JobId=24 JobName=wrap",
        "   UserId=root(0) GroupId=root(0) MCS_label=N/A",
        "   Priority=4294901747 Nice=0 Account=(null) QOS=(null)",
        "   JobState=RUNNING Reason=None Dependency=(null)",
        "   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0",
        "   RunTime=00:00:24 TimeLimit=UNLIMITED TimeMin=N/A"]
    for line in ["   SubmitTime=2026-11-25T03:48:41 EligibleTime=2026-11-25T03:48:41",
                 "   StartTime=2026-11-25T03:48:50 EndTime=Unknown Deadline=N/A",
                 "   NodeList=vm", "   BatchHost=vm", "   Command=(null)",
                 "   WorkDir=/tmp/fmtpeer", "   StdErr=/tmp/fmtpeer/slurm-24.out",
                 "   StdIn=/dev/null", "   StdOut=/tmp/fmtpeer/slurm-24.out"]:
        assert line in record


def test_scontrol_array_task_and_limits():
    row = pending(26, array_job_id=25, array_task_id=2, time_limit=90 * 60,
                  gpus=[["a100", 1]], exit_code=0)
    text = format_scontrol_job(row, now=NOW)
    assert text.startswith("JobId=26 ArrayJobId=25 ArrayTaskId=2 JobName=wrap\n")
    assert "   RunTime=00:00:00 TimeLimit=01:30:00 TimeMin=N/A\n" in text
    assert "   TresPerNode=gres:gpu:a100:1\n" in text
    one = format_scontrol_job(row, now=NOW, oneliner=True)
    assert one.count("\n") == 1 and "JobState=PENDING Reason=Priority" in one


def test_scontrol_node_and_partition_records():
    node = format_scontrol_node(PEER_NODE).split("\n")
    assert node[0] == "NodeName=vm"
    assert "   CPUAlloc=2 CPUEfctv=2 CPUTot=2" in node
    assert "   State=ALLOCATED" in node
    assert "   CfgTRES=cpu=2,mem=23081M,billing=2" in node
    assert "   AllocTRES=cpu=2,mem=23081M" in node
    drained = format_scontrol_node(dict(PEER_NODE, state="drain", cpus_alloc=0))
    assert "   State=IDLE+DRAIN\n" in drained
    partition = format_scontrol_partition(PEER_PARTITION).split("\n")
    assert partition[:3] == ["PartitionName=debug",
                             "   AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
                             "   AllocNodes=ALL Default=YES QoS=N/A"]
    assert "   Nodes=vm" in partition
    assert "   State=UP TotalCPUs=2 TotalNodes=1" in partition
