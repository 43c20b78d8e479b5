"""What ``scontrol show job|node|partition`` prints: Slurm 22.05's ``Key=Value``
records, with the keys scripts grep (``JobState``, ``NodeList``, ``ExitCode``...); and
``scontrol show config``'s ``Key = value`` lines.

A record's first line is flush left, the others are indented by three spaces, and a
blank line follows; ``-o`` (oneliner) puts a record on one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kairos.core.jobs import JobState
from kairos.slurm import hostlist
from kairos.slurm.output.jobs import elapsed, first_node, min_cpus, shown_priority, tres
from kairos.slurm.output.notation import (
    format_clock, format_exit, format_gres, format_size, or_null,
)
from kairos.slurm.output.records import NodeRecord, PartitionRecord
from kairos.slurm.timespec import format_timestamp

if TYPE_CHECKING:
    from kairos.model import LiveJob

#: One ``Key=Value`` line of a record.
KeyValues = Sequence[tuple[str, Any]]


def _key_values(lines: Sequence[KeyValues], *, oneliner: bool) -> str:
    """Slurm's record layout: first line flush left, the rest indented by three spaces,
    a blank line after; ``oneliner`` puts everything on one line."""
    texts = [" ".join(f"{k}={v}" for k, v in line) for line in lines]
    if oneliner:
        return " ".join(texts) + "\n"
    return texts[0] + "\n" + "".join(f"   {t}\n" for t in texts[1:]) + "\n"


def _time(epoch: float | None) -> str:
    return format_timestamp(epoch, "Unknown")


def _limit(seconds: float | None, unlimited: str = "UNLIMITED") -> str:
    return unlimited if seconds is None else format_clock(seconds)


def _end_estimate(job: LiveJob) -> float | None:
    if job.state.finished:
        return job.end_time
    if job.state.active and job.start_time is not None and job.time_limit is not None:
        return job.start_time + job.time_limit
    return None


def format_scontrol_job(job: LiveJob, *, now: float, oneliner: bool = False) -> str:
    """``scontrol show job``'s record (the keys scripts grep: JobId, JobName, UserId,
    JobState, Reason, ExitCode, RunTime, TimeLimit, SubmitTime, StartTime, EndTime,
    Partition, NodeList, NumNodes, NumCPUs, TRES, Command, WorkDir, StdErr, StdOut
    ...)."""
    first = [("JobId", job.job_id)]
    if job.array_task_id is not None:
        first += [("ArrayJobId", job.array_job_id), ("ArrayTaskId", job.array_task_id)]
    first.append(("JobName", job.name))
    start = job.expected_start if job.state is JobState.PENDING else job.start_time
    lines: list[KeyValues] = [
        first,
        [("UserId", f"{job.user}({or_null(job.uid)})"),
         ("GroupId", f"{job.group}({or_null(job.gid)})"), ("MCS_label", "N/A")],
        [("Priority", shown_priority(job)), ("Nice", job.nice),
         ("Account", or_null(job.account)), ("QOS", or_null(job.qos))],
        [("JobState", job.state.name), ("Reason", job.reason or "None"),
         ("Dependency", or_null(job.dependency))],
        [("Requeue", 1), ("Restarts", job.restarts), ("BatchFlag", 1), ("Reboot", 0),
         ("ExitCode", format_exit(job.exit_code, job.signal))],
        [("RunTime", format_clock(elapsed(job, now))), ("TimeLimit", _limit(job.time_limit)),
         ("TimeMin", _limit(job.time_min, "N/A"))],
        [("SubmitTime", _time(job.submit_time)), ("EligibleTime", _time(job.eligible_time))],
        [("StartTime", _time(start)), ("EndTime", _time(_end_estimate(job))),
         ("Deadline", "N/A")],
        [("Partition", job.partition)],
        [("NodeList", job.node_list or "")],
    ]
    if job.state.active and job.node_list:
        lines.append([("BatchHost", first_node(job))])
    lines += [
        [("NumNodes", job.nodes), ("NumCPUs", job.cpus), ("NumTasks", job.ntasks),
         ("CPUs/Task", job.cpus_per_task)],
        [("TRES", tres(job))],
        [("MinCPUsNode", min_cpus(job)),
         ("MinMemoryNode", format_size(job.mem_per_node or 0, "M"))],
        [("Command", or_null(job.command))],
        [("WorkDir", job.work_dir)],
        # only when set, and with the space after it that Slurm 22.05 prints
        *([[("Comment", f"{job.comment} ")]] if job.comment else []),
        [("StdErr", or_null(job.stderr or job.stdout))],
        [("StdIn", "/dev/null")],
        [("StdOut", or_null(job.stdout))],
    ]
    if job.gpus:
        lines.insert(-5, [("TresPerNode", ",".join(
            f"gres:{item}" for item in format_gres(job.gpus).split(",")))])
    return _key_values(lines, oneliner=oneliner)


def format_scontrol_node(node: Mapping[str, Any], *, oneliner: bool = False) -> str:
    """``scontrol show node``'s record for a ``client.nodes()`` dict."""
    n = NodeRecord.from_wire(node)
    gres = format_gres(n.gpus) or "(null)"
    features = ",".join(n.features) or "(null)"
    cfg_tres = f"cpu={n.cpus},mem={format_size(n.mem, 'M')},billing={n.cpus}"
    alloc_tres = [f"cpu={n.cpus_alloc}"] if n.cpus_alloc else []
    if n.mem_alloc:
        alloc_tres.append(f"mem={format_size(n.mem_alloc, 'M')}")
    gpus_alloc = sum(count for _, count in n.gpus_alloc)
    if gpus_alloc:
        alloc_tres.append(f"gres/gpu={gpus_alloc}")
    gpu_total = sum(count for _, count in n.gpus)
    if gpu_total:
        cfg_tres += f",gres/gpu={gpu_total}"
    lines: list[KeyValues] = [
        [("NodeName", n.name)],
        [("CPUAlloc", n.cpus_alloc), ("CPUEfctv", n.cpus), ("CPUTot", n.cpus)],
        [("AvailableFeatures", features)],
        [("ActiveFeatures", features)],
        [("Gres", gres)],
        [("NodeAddr", n.name), ("NodeHostName", n.name)],
        [("OS", n.os or "(null)")],
        [("RealMemory", n.mem), ("AllocMem", n.mem_alloc)],
        [("State", n.scontrol_state)],
        [("Partitions", ",".join(n.partitions))],
        [("BootTime", format_timestamp(n.boot_time, "None"))],
        [("CfgTRES", cfg_tres)],
        [("AllocTRES", ",".join(alloc_tres))],
    ]
    if n.reason:
        lines.append([("Reason", _reason(n))])
    return _key_values(lines, oneliner=oneliner)


def _reason(n: NodeRecord) -> str:
    """``Reason=why [user@time]``, as Slurm records who set a node's reason and when
    (``kairos`` when the controller did)."""
    if n.reason_time is None:
        return n.reason or ""
    return f"{n.reason} [{n.reason_user or 'kairos'}@{format_timestamp(n.reason_time, 'Unknown')}]"


def format_scontrol_partition(partition: Mapping[str, Any], *, oneliner: bool = False) -> str:
    """``scontrol show partition``'s record for a ``client.partitions()`` dict."""
    p = PartitionRecord.from_wire(partition)
    lines: list[KeyValues] = [
        [("PartitionName", p.name)],
        [("AllowGroups", "ALL"), ("AllowAccounts", "ALL"), ("AllowQos", "ALL")],
        [("AllocNodes", "ALL"), ("Default", "YES" if p.default else "NO"), ("QoS", "N/A")],
        [("DefaultTime", _limit(p.default_time, "NONE"))],
        [("MaxNodes", "UNLIMITED" if p.max_nodes is None else p.max_nodes),
         ("MaxTime", _limit(p.max_time)), ("MinNodes", 0)],
        [("Nodes", hostlist.compress(list(p.nodes)) if p.nodes else "(null)")],
        [("PriorityJobFactor", 1), ("PriorityTier", p.priority_tier)],
        [("State", "UP" if p.up else "DOWN"), ("TotalCPUs", p.total_cpus),
         ("TotalNodes", p.total_nodes)],
    ]
    return _key_values(lines, oneliner=oneliner)


#: ``PriorityType`` for Kairos's queue orders that Slurm has a plugin for; the others
#: are named by the order itself (``priority/sjf``), which Slurm does not have.
_PRIORITY_TYPES = {"multifactor": "priority/multifactor", "submit": "priority/basic"}


def _seconds(value: float, unit: str = "sec") -> str:
    return f"{value:g} {unit}"


def config_lines(facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The keys ``scontrol show config`` prints for a Kairos controller, in Slurm's
    order: only those Kairos can state truthfully from ``facts`` (the controller's
    ``/config`` answer); the cluster keys (port, node timeout) only at the head of a
    cluster of node daemons."""
    host = facts["controller_host"]
    if facts.get("controller_address"):
        host = f"{host}({facts['controller_address']})"
    order = facts["order"]
    lines = [
        ("BOOT_TIME", _time(facts["boot_time"])),
        ("ClusterName", facts["cluster_name"]),
        ("FirstJobId", "1"),
        ("InactiveLimit", _seconds(facts["inactive_limit"])),
        ("KillWait", _seconds(facts["kill_wait"])),
        ("MaxArraySize", str(facts["max_array_size"])),
        ("MaxMemPerNode", "UNLIMITED"),
        ("MinJobAge", _seconds(facts["min_job_age"])),
        ("NEXT_JOB_ID", str(facts["next_job_id"])),
        ("OverTimeLimit", "0 min"),
        ("PreemptMode", "OFF"),
        ("PreemptType", "preempt/none"),
        ("PriorityType", _PRIORITY_TYPES.get(order, f"priority/{order}")),
        ("PrivateData", "none"),
        ("ProctrackType", "proctrack/pgid"),
    ]
    if facts.get("return_to_service") is not None:
        lines.append(("ReturnToService", str(facts["return_to_service"])))
    lines += [
        ("SchedulerType", "sched/builtin" if facts["policy"] == "fcfs" else "sched/backfill"),
        ("SelectType", "select/cons_tres"),
        ("SelectTypeParameters", "CR_CORE_MEMORY"),
        ("SlurmUser", f"{facts['controller_user']}({facts['controller_uid']})"),
        ("SlurmctldHost[0]", host),
    ]
    if facts.get("controller_port") is not None:
        lines.append(("SlurmctldPort", str(facts["controller_port"])))
    if facts.get("node_timeout") is not None:
        lines.append(("SlurmdTimeout", _seconds(facts["node_timeout"])))
    lines += [
        ("SLURM_VERSION", f"22.05 (kairos {facts['version']})"),
    ]
    return lines


def format_scontrol_config(facts: Mapping[str, Any], *, now: float) -> str:
    """``scontrol show config``: Slurm's ``Configuration data as of <time>`` line, one
    ``Key = value`` line per setting (keys padded to 23 columns), a blank line and the
    controller's ``Slurmctld(primary) at <host> is UP``."""
    body = "".join(f"{key:<23} = {value}\n" for key, value in config_lines(facts))
    return (f"Configuration data as of {_time(now)}\n{body}\n"
            f"Slurmctld(primary) at {facts['controller_host']} is UP\n")
