"""Job steps on a 3-node test cluster, end to end through the real commands: ``srun``
inside batch jobs (output from every node, labels, output files, the step environment,
shapes, steps side by side, exit codes, sacct's step lines), ending and signalling
steps (scancel of a job, of a step, with a signal; srun's double Ctrl-C), and srun and
salloc outside any job.

Task processes are told apart by a unique ``sleep NNNN`` command line, counted with
psutil: the nodes' namespaces share this machine's process table, so a task left
behind on any node is seen here.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from kairos.testing.cluster import KairosCluster, running_cluster
from kairos.testing.commands import CommandFailed


@pytest.fixture(scope="module")
def cluster():
    """3 nodes of 2 CPUs each, whatever this machine has: the shapes below are known."""
    with running_cluster(3, 2) as made:
        yield made


def _script(cluster: KairosCluster, body: str, *options: str, name: str) -> int:
    """Submit ``body`` (bash) as ``name``.sh, output in ``name``.out; the job id."""
    return cluster.sbatch(f"#!/bin/bash\n{body}\n", "-o", f"{name}.out", *options,
                          name=f"{name}.sh")


def _finish(cluster: KairosCluster, job: int, name: str, timeout: float = 40) -> tuple[dict, str]:
    """Wait for ``job``'s end: its record and its output file."""
    [row] = cluster.wait(job, timeout=timeout)
    return row, (cluster.workdir / f"{name}.out").read_text()


def _count(command_line: str) -> int:
    """Processes running exactly ``command_line`` on this machine (every node's)."""
    import psutil

    words = command_line.split()
    return sum(1 for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == words)


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.1)


def _sacct(cluster: KairosCluster, job: int) -> list[str]:
    """``JobID|State|ExitCode`` of the job and each of its steps."""
    out = cluster.run("sacct", "-j", str(job), "--parsable2", "--noheader",
                      "-o", "JobID,State,ExitCode").stdout
    return out.splitlines()


# --- steps inside a batch job ----------------------------------------------------------

def test_labelled_output_and_errors_come_back_from_every_node(cluster):
    job = _script(cluster, "srun -l printenv SLURMD_NODENAME\n"
                           "srun -l bash -c 'echo out $SLURM_PROCID; echo err $SLURM_PROCID >&2'",
                  "-N3", "-n3", "-e", "labels.err", name="labels")
    row, out = _finish(cluster, job, "labels")
    assert row["state"] == "COMPLETED"
    assert sorted(out.splitlines()) == ["0: kn1", "0: out 0", "1: kn2", "1: out 1",
                                        "2: kn3", "2: out 2"]
    assert sorted((cluster.workdir / "labels.err").read_text().splitlines()) == [
        "0: err 0", "1: err 1", "2: err 2"]


def test_tasks_run_with_the_umask_of_their_srun(cluster):
    # as Slurm's tasks do (srun passes SLURM_UMASK); the script itself has sbatch's
    job = _script(cluster, "umask; umask 0027; srun -l bash -c umask",
                  "-N2", "-n2", name="umasks")
    row, out = _finish(cluster, job, "umasks")
    assert row["state"] == "COMPLETED", out
    assert sorted(out.splitlines()) == ["0022", "0: 0027", "1: 0027"]


def test_each_task_sees_its_place_in_the_step(cluster):
    fields = ("$SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURM_STEP_ID $SLURM_STEPID "
              "$SLURM_NTASKS $SLURM_STEP_NODELIST $SLURMD_NODENAME")
    job = _script(cluster, f"srun bash -c 'echo A {fields}'\n"
                           f"srun -N1 -n1 bash -c 'echo B {fields}'\n"
                           f"srun --ntasks-per-node=1 bash -c 'echo C {fields}'",
                  "-N3", "--ntasks-per-node=2", name="places")
    row, out = _finish(cluster, job, "places")
    assert row["state"] == "COMPLETED", out
    assert sorted(out.splitlines()) == [
        "A 0 0 0 0 0 6 kn[1-3] kn1", "A 1 1 0 0 0 6 kn[1-3] kn1",
        "A 2 0 1 0 0 6 kn[1-3] kn2", "A 3 1 1 0 0 6 kn[1-3] kn2",
        "A 4 0 2 0 0 6 kn[1-3] kn3", "A 5 1 2 0 0 6 kn[1-3] kn3",
        "B 0 0 0 1 1 1 kn1 kn1",
        "C 0 0 0 2 2 3 kn[1-3] kn1", "C 1 0 1 2 2 3 kn[1-3] kn2", "C 2 0 2 2 2 3 kn[1-3] kn3"]


def test_output_file_patterns_name_one_file_per_task(cluster):
    job = _script(cluster, "srun -o 'files-%t-%N.out' -e 'files-%j.%s-%t.err' "
                           "bash -c 'echo out $SLURM_PROCID; echo err $SLURM_PROCID >&2'\n"
                           "echo script done",
                  "-N3", "-n3", name="files")
    row, out = _finish(cluster, job, "files")
    assert row["state"] == "COMPLETED"
    assert out == "script done\n"  # the tasks' output went to their files, not to srun
    for task, node in enumerate(("kn1", "kn2", "kn3")):
        assert (cluster.workdir / f"files-{task}-{node}.out").read_text() == f"out {task}\n"
        assert (cluster.workdir / f"files-{job}.0-{task}.err").read_text() == f"err {task}\n"


def test_a_step_waits_for_the_cpus_another_step_holds(cluster):
    # The first step holds every CPU of the job; the second waits for them, saying so,
    # and the first ends only once it has (``timeout`` keeps a failure from hanging).
    job = _script(cluster, "srun bash -c 'echo first; until [ -e busy.go ]; do sleep 0.1; done' &\n"
                           "until grep -q first busy.out; do sleep 0.1; done\n"
                           "(timeout 20 bash -c 'until grep -q disabled busy.err; do sleep 0.1; "
                           "done'; touch busy.go) &\n"
                           "srun -l echo second\nwait",
                  "-N3", "-n3", "-e", "busy.err", name="busy")
    row, out = _finish(cluster, job, "busy")
    assert row["state"] == "COMPLETED"
    assert sorted(out.splitlines()) == ["0: second", "1: second", "2: second"] + ["first"] * 3
    err = (cluster.workdir / "busy.err").read_text().splitlines()
    assert err[0].startswith(f"srun: Job {job} step creation temporarily disabled, retrying")
    assert err[1:] == [f"srun: Step created for job {job}"]


@pytest.mark.parametrize("second", ["--overlap", "--exact"])
def test_overlap_and_exact_steps_run_beside_another(cluster, second):
    # The first step waits for a file only the second makes: it finishes only if the two
    # run at the same time.  --overlap shares the first step's CPUs; two --exact steps
    # hold one CPU each of the job's two.  (``timeout`` keeps a failure from hanging.)
    first = "--exact" if second == "--exact" else ""
    name = f"beside{second.replace('-', '_')}"
    job = _script(cluster, f"rm -f {name}.go\n"
                           f"srun -n1 {first} timeout 20 bash -c "
                           f"'until [ -e {name}.go ]; do sleep 0.1; done; echo waited' &\n"
                           f"srun -n1 {second} touch {name}.go\nwait",
                  "-N1", "-n2", name=name)
    row, out = _finish(cluster, job, name)
    assert (row["state"], out) == ("COMPLETED", "waited\n")


def test_several_steps_at_once(cluster):
    # Each step waits until all three have started: they ran at the same time.
    meet = ("touch several.$SLURMD_NODENAME; timeout 20 bash -c "
            "\"until [ -e several.kn1 -a -e several.kn2 -a -e several.kn3 ]; do sleep 0.1; "
            "done\" && echo met on $SLURMD_NODENAME")
    job = _script(cluster, "rm -f several.kn*\n"
                           + "".join(f"srun -N1 -n1 -w {node} --exact bash -c '{meet}' &\n"
                                     for node in ("kn1", "kn2", "kn3"))
                           + "wait",
                  "-N3", "-n3", name="several")
    row, out = _finish(cluster, job, "several")
    assert row["state"] == "COMPLETED"
    assert sorted(out.splitlines()) == ["met on kn1", "met on kn2", "met on kn3"]
    assert sorted(_sacct(cluster, job)[2:]) == [f"{job}.{i}|COMPLETED|0:0" for i in range(3)]


def test_a_step_bigger_than_the_allocation_is_refused_and_the_job_goes_on(cluster):
    job = _script(cluster, "srun -n7 true; echo \"tasks: $?\"\n"
                           "srun -N4 true; echo \"nodes: $?\"\n"
                           "srun -N1 -n1 echo still here",
                  "-N3", "-n3", "-e", "bigger.err", name="bigger")
    row, out = _finish(cluster, job, "bigger")
    assert row["state"] == "COMPLETED"
    assert out.splitlines() == ["tasks: 1", "nodes: 1", "still here"]
    err = (cluster.workdir / "bigger.err").read_text().splitlines()
    assert err[0] == (f"srun: error: Unable to create step for job {job}: More processors "
                      "requested than permitted")
    assert err[1].startswith(f"srun: error: Unable to create step for job {job}: Requested "
                             "node configuration is not available")
    assert _sacct(cluster, job)[2:] == [f"{job}.0|COMPLETED|0:0"]  # refused steps use no id


def test_srun_exits_with_the_highest_task_exit_code_and_sacct_lists_every_step(cluster):
    job = _script(cluster, "srun true\n"
                           "srun -l bash -c 'exit $(( SLURM_PROCID == 1 ? 3 : 0 ))'\n"
                           "echo \"srun: $?\"\n"
                           "srun bash -c 'exit $SLURM_PROCID'\necho \"srun: $?\"",
                  "-N3", "-n3", name="codes")
    row, out = _finish(cluster, job, "codes")
    assert row["state"] == "COMPLETED"
    lines = out.splitlines()
    assert lines[:2] == ["srun: error: kn2: task 1: Exited with exit code 3", "srun: 3"]
    assert sorted(lines[2:4]) == ["srun: error: kn2: task 1: Exited with exit code 1",
                                  "srun: error: kn3: task 2: Exited with exit code 2"]
    assert lines[4:] == ["srun: 2"]
    assert _sacct(cluster, job) == [
        f"{job}|COMPLETED|0:0", f"{job}.batch|COMPLETED|0:0", f"{job}.0|COMPLETED|0:0",
        f"{job}.1|FAILED|3:0", f"{job}.2|FAILED|2:0"]


# --- ending and signalling steps -------------------------------------------------------

def test_scancel_of_a_job_ends_its_step_on_every_node(cluster):
    job = _script(cluster, "srun sleep 4711", "-N3", name="ended")
    _wait_for(lambda: _count("sleep 4711") == 3, "the step's task on each node")
    cluster.run("scancel", str(job))
    row, _ = _finish(cluster, job, "ended")
    assert row["state"] == "CANCELLED"
    _wait_for(lambda: _count("sleep 4711") == 0, "every task to end")
    assert _sacct(cluster, job)[2].startswith(f"{job}.0|CANCELLED|")


def test_scancel_signal_reaches_the_tasks_of_the_steps(cluster):
    (cluster.workdir / "usr1-task.sh").write_text(
        "trap 'echo \"$SLURM_PROCID got USR1\"; exit 7' USR1\necho ready\nsleep 4712 & wait\n")
    job = _script(cluster, "trap 'echo batch got USR1' USR1\n"  # it survives either way
                           "srun -l bash usr1-task.sh; echo \"srun: $?\"",
                  "-N3", name="usr1")
    out = cluster.workdir / "usr1.out"
    _wait_for(lambda: out.exists() and out.read_text().count("ready") == 3, "the traps")
    cluster.run("scancel", "--signal=USR1", str(job))
    row, text = _finish(cluster, job, "usr1")
    assert row["state"] == "COMPLETED", text
    assert sorted(line for line in text.splitlines() if line.endswith("got USR1")
                  and line[:1].isdigit()) == ["0: 0 got USR1", "1: 1 got USR1", "2: 2 got USR1"]
    assert "srun: 7" in text.splitlines()
    _wait_for(lambda: _count("sleep 4712") == 0, "the tasks' sleeps to end")


def test_scancel_of_a_step_ends_that_step_and_the_script_goes_on(cluster):
    job = _script(cluster, "srun sleep 4713; echo \"srun: $?\"\n"
                           "srun -l printenv SLURMD_NODENAME",
                  "-N3", name="onestep")
    _wait_for(lambda: _count("sleep 4713") == 3, "the step's task on each node")
    cluster.run("scancel", f"{job}.0")
    row, out = _finish(cluster, job, "onestep")
    assert row["state"] == "COMPLETED", out
    assert {"srun: 137", "srun: 143"} & set(out.splitlines())  # its tasks were killed
    assert sorted(line for line in out.splitlines() if line[:1].isdigit()) == [
        "0: kn1", "1: kn2", "2: kn3"]
    assert _count("sleep 4713") == 0
    steps = _sacct(cluster, job)[2:]
    assert steps[0].startswith(f"{job}.0|CANCELLED|") and steps[1:] == [f"{job}.1|COMPLETED|0:0"]
    refused = cluster.run("scancel", f"{job}.7", check=False)
    assert refused.returncode == 1 and refused.stderr == (
        f"scancel: error: Kill job error on job step id {job}.7: Invalid job id specified\n")


def test_two_ctrl_c_within_a_second_cancel_the_step(cluster):
    srun = subprocess.Popen([cluster.executable, "srun", "-N3", "-J", "ctrlc", "sleep", "4714"],
                            cwd=cluster.workdir, env=cluster.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _count("sleep 4714") == 3, "the step's task on each node")
        srun.send_signal(signal.SIGINT)
        time.sleep(0.3)  # the second Ctrl-C comes within the second
        srun.send_signal(signal.SIGINT)
        _, err = srun.communicate(timeout=30)
    finally:
        srun.kill()
    assert srun.returncode == 130, err
    lines = err.splitlines()
    assert "srun: interrupt (one more within 1 sec to abort)" in lines
    assert "srun: forcing job termination" in lines
    _wait_for(lambda: _count("sleep 4714") == 0, "every task to end")
    [job] = _jobs_named(cluster, "ctrlc")
    [row] = cluster.wait(job["job_id"])
    assert row["state"] == "FAILED" and row["exit_code"] == 130  # srun's status, given back
    assert _sacct(cluster, job["job_id"])[1].startswith(f"{job['job_id']}.0|CANCELLED|")


def _jobs_named(cluster: KairosCluster, name: str) -> list[dict]:
    return [r for r in cluster.client().jobs(all_states=True) if r["name"] == name]


# --- outside any job -------------------------------------------------------------------

def test_srun_outside_a_job_runs_in_an_allocation_of_its_own(cluster):
    ran = cluster.run("srun", "-N2", "-n4", "-l", "-J", "outside", "printenv",
                      "SLURMD_NODENAME")
    lines = sorted(ran.stdout.splitlines())
    assert [line[:2] for line in lines] == ["0:", "1:", "2:", "3:"]
    first, second = {line[3:] for line in lines[:2]}, {line[3:] for line in lines[2:]}
    assert len(first) == len(second) == 1 and first != second  # two tasks on each of two nodes
    [job] = _jobs_named(cluster, "outside")
    [row] = cluster.wait(job["job_id"])
    assert (row["state"], row["nodes"]) == ("COMPLETED", 2)  # given back
    assert _sacct(cluster, job["job_id"]) == [f"{job['job_id']}|COMPLETED|0:0",
                                              f"{job['job_id']}.0|COMPLETED|0:0"]


def test_salloc_runs_its_command_in_the_allocation(cluster):
    done = cluster.run("salloc", "-N2", "-J", "salloced", "srun", "-l", "printenv",
                       "SLURMD_NODENAME")
    lines = sorted(done.stdout.splitlines())
    assert [line[:3] for line in lines] == ["0: ", "1: "] and lines[0][3:] != lines[1][3:]
    [job] = _jobs_named(cluster, "salloced")
    assert f"salloc: Granted job allocation {job['job_id']}" in done.stderr
    [row] = cluster.wait(job["job_id"])
    assert (row["state"], row["nodes"]) == ("COMPLETED", 2)


@pytest.mark.parametrize("command, words", [
    (["srun", "-N9", "true"], "srun: error: Unable to allocate resources: Requested node "
                              "configuration is not available"),
    (["srun", "-n99", "true"], "srun: error: Unable to allocate resources: Requested node "
                               "configuration is not available"),
    (["salloc", "-N2", "--no-shell"], "salloc: error: --no-shell is not supported"),
])
def test_an_allocation_that_can_never_exist_is_refused_and_uses_no_job_id(cluster, command,
                                                                          words):
    before = cluster.submit("--wrap", "true")
    with pytest.raises(CommandFailed) as refused:
        cluster.run(*command)
    assert refused.value.returncode == 1
    assert refused.value.stderr.startswith(words)
    assert cluster.submit("--wrap", "true") == before + 1
