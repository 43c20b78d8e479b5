"""srun's command line: getopt's rules and words (checked on a Slurm 22.05 peer), what
every option of srun's help becomes, and the step and allocation it asks for."""

from __future__ import annotations

import pytest

from kairos.slurm.option_engine import SlurmOptionError
from kairos.slurm.srun import OptionSyntaxError, parse_srun
from kairos.slurm.srun_options import OPTIONS, TABLE, help_text

NOW = 1_790_000_000.0
INSIDE = {"SLURM_JOB_ID": "12", "SLURM_JOB_NODELIST": "vm", "PATH": "/bin"}

#: Every option ``srun --help`` of Slurm 22.05 lists (the peer's).
SRUN_HELP = """--account --acctg-freq --bb --bbf --bcast --bcast-exclude --begin --chdir
--cluster-constraint --clusters --comment --compress --constraint --container --contiguous
--core-spec --cores-per-socket --cpu-freq --cpus-per-gpu --cpus-per-task --deadline
--delay-boot --dependency --disable-status --distribution --epilog --error --exact
--exclude --exclusive --export --extra-node-info --gpu-bind --gpu-freq --gpus
--gpus-per-node --gpus-per-socket --gpus-per-task --gres --gres-flags --help --het-group
--hold --immediate --input --job-name --jobid --kill-on-bad-exit --label --licenses
--mail-type --mail-user --mcs-label --mem --mem-per-cpu --mem-per-gpu --mincpus --mpi
--multi-prog --nice --no-allocate --no-kill --nodelist --nodes --ntasks --ntasks-per-core
--ntasks-per-node --ntasks-per-socket --output --overcommit --overlap --oversubscribe
--partition --power --preserve-env --priority --profile --prolog --propagate --pty --qos
--quiet --quit-on-interrupt --reboot --relative --reservation --resv-ports --send-libs
--signal --slurmd-debug --sockets-per-node --spread-job --switches --task-epilog
--task-prolog --thread-spec --threads --threads-per-core --time --time-min --tmp
--unbuffered --usage --use-min-nodes --verbose --version --wait --wckey""".split()


def parse(argv, env=None):
    return parse_srun(argv, INSIDE if env is None else env, now=NOW)


def error_of(argv, env=None, kind=SlurmOptionError) -> str:
    with pytest.raises(kind) as caught:
        parse(argv, env)
    return str(caught.value)


# --- getopt's rules ------------------------------------------------------------------

def test_the_command_starts_at_the_first_word_that_is_not_an_option():
    request = parse(["-n2", "-l", "ls", "-l", "--label", "x"])
    assert request.command == ["ls", "-l", "--label", "x"]
    assert request.label and request.draft.ntasks == 2
    assert parse(["-N", "1", "--", "-weird"]).command == ["-weird"]


@pytest.mark.parametrize("argv", [["-lun2"], ["-l", "-u", "--ntasks=2"], ["--lab", "--unb", "-n", "2"]])
def test_bundles_prefixes_and_attached_values(argv):
    request = parse([*argv, "true"])
    assert (request.label, request.unbuffered, request.draft.ntasks) == (True, True, 2)


@pytest.mark.parametrize("argv, message", [
    # the peer's words, to the letter
    (["--foo", "true"], "srun: unrecognized option '--foo'"),
    (["--foo=1", "true"], "srun: unrecognized option '--foo=1'"),
    (["-y", "true"], "srun: invalid option -- 'y'"),
    (["-l2", "true"], "srun: invalid option -- '2'"),
    (["--time"], "srun: option '--time' requires an argument"),
    (["-n"], "srun: option requires an argument -- 'n'"),
    (["--label=1", "true"], "srun: option '--label' doesn't allow an argument"),
    (["--excl", "true"], "srun: option '--excl' is ambiguous; possibilities: '--exclude' "
                         "'--exclusive'"),
])
def test_getopt_errors_in_the_peers_words(argv, message):
    assert error_of(argv, kind=OptionSyntaxError) == \
        f'{message}\nTry "srun --help" for more information'


def test_a_value_follows_its_option_whatever_it_looks_like():
    assert parse(["-J", "-x", "true"]).draft.name == "-x"
    assert parse(["-K0", "true"]).kill_on_bad_exit is False
    assert parse(["-K", "true"]).kill_on_bad_exit is True


def test_info_options_and_no_command():
    assert parse(["--help"]).info == "help"
    assert parse(["--version", "--pty"]).info == "version"  # nothing else matters
    assert parse(["--mpi=list"]).info == "mpi-list"
    assert parse(["-n", "2"]).command == []
    assert "--label" in help_text() and "--pty" in help_text().split("Refused")[1]


# --- every option of srun --help -------------------------------------------------------

def test_every_option_of_sruns_help_is_honoured_ignored_or_refused():
    known = {f"--{o.long}": o for o in OPTIONS}
    assert not [name for name in SRUN_HELP if name not in known]
    assert len(OPTIONS) == 131  # the peer's getopt table: its hidden options too
    for name in SRUN_HELP:
        option = known[name]
        assert not (option.ignored and option.refused)
        assert option.refused is None or option.refused.strip()


def test_options_with_no_effect_warn():
    request = parse(["--mail-type=END", "--tmp", "1", "-T", "4", "--cpu-bind=q", "true"])
    assert request.warnings == [
        "--mail-type is ignored: Kairos sends no mail",
        "--tmp is ignored: temporary disk is not counted",
        "--threads is ignored: each node's daemon starts its own tasks",
        "--cpu-bind is ignored: binding is per allocation (a step uses its job's cores)"]


@pytest.mark.parametrize("argv, message", [
    (["--pty"], "--pty is not supported: pseudo-terminals are not supported"),
    (["--multi-prog"], "--multi-prog is not supported: give each task its program"),
    (["-L", "matlab"], "--licenses is not supported: licenses are not supported"),
    (["--mpi=pmix"], "--mpi=pmix is not supported: Kairos starts tasks without an MPI plugin"),
    (["--mpi=foo"], "Invalid MPI type 'foo', --mpi=list for acceptable types"),
    (["--cpu-bind=cores"], "--cpu-bind=cores is not supported: tasks are not bound"),
    (["-m", "plane=2"], "-m/--distribution=plane=2 is not supported: tasks are laid out"),
    (["-m", "arbitrary"], "-m/--distribution=arbitrary is not supported: tasks are laid out"),
    (["--open-mode=append"], "--open-mode=append is not supported"),
    (["-W", "x"], 'Invalid numeric value "x" for --wait.'),
    (["-t", "soon"], "invalid --time value 'soon'"),
    (["-n", "0"], "invalid --ntasks value '0'"),
])
def test_refusals_say_why(argv, message):
    assert error_of([*argv, "true"]).startswith(message)


def test_an_option_from_the_environment_is_named_with_its_variable():
    env = dict(INSIDE, SLURM_MPI_TYPE="pmi2")
    assert error_of(["true"], env).startswith("SLURM_MPI_TYPE: --mpi=pmi2 is not supported")


def test_accepted_forms_of_binding_distribution_and_open_mode():
    request = parse(["--cpu-bind=quiet,none", "-m", "block:cyclic", "--open-mode=truncate",
                     "--mpi=none", "true"])
    assert request.command == ["true"]


# --- inside a job: the step ------------------------------------------------------------

def test_step_defaults_take_the_allocations_shape():
    request = parse(["hostname"])
    step = request.step_request(cwd="/work", env=INSIDE, io={"host": "h", "port": 1, "token": "t"})
    assert (step.ntasks, step.nodes, step.cpus_per_task, step.name) == (None, None, None, None)
    assert (step.stdin, step.stdout, step.exact, step.overlap) == ("all", None, False, False)
    assert step.argv == ["hostname"] and step.cwd == "/work"
    assert step.env == {**INSIDE, "SLURM_LAUNCH_NODE_IPADDR": "h"}  # where srun listens
    assert request.job_id == 12 and request.inside


def test_step_options():
    request = parse(["-n4", "-N2", "-c", "2", "--exact", "--overlap", "-w", "n[1-2]", "-x", "n3",
                     "-J", "s", "-t", "5", "-D", "sub", "-o", "o-%t", "-e", "e-%t", "-i", "none",
                     "--export=A=1", "cmd"])
    step = request.step_request(cwd="/work", env=dict(INSIDE, B="2"), io=None)
    assert (step.ntasks, step.nodes, step.cpus_per_task) == (4, 2, 2)
    assert (step.exact, step.overlap, step.nodelist, step.exclude) == (True, True, ["n1", "n2"], ["n3"])
    assert (step.name, step.time_limit, step.cwd) == ("s", 300, "/work/sub")
    assert (step.stdout, step.stderr, step.stdin) == ("o-%t", "e-%t", "none")
    assert step.env == {"SLURM_JOB_ID": "12", "SLURM_JOB_NODELIST": "vm", "A": "1"}
    assert not request.reads_stdin


def test_srun_adds_the_variables_of_slurms_srun():
    io = {"host": "10.0.0.5", "port": 1, "token": "t"}
    step = parse(["-l", "true"]).step_request(cwd="/", env=INSIDE, io=io, umask=0o027)
    assert {k: step.env[k] for k in ("SLURM_UMASK", "SLURM_LABELIO", "SLURM_LAUNCH_NODE_IPADDR")} \
        == {"SLURM_UMASK": "0027", "SLURM_LABELIO": "1", "SLURM_LAUNCH_NODE_IPADDR": "10.0.0.5"}
    plain = parse(["true"]).step_request(cwd="/", env=INSIDE, io=None, umask=0o022)
    assert "SLURM_LABELIO" not in plain.env and plain.env["SLURM_UMASK"] == "0022"


@pytest.mark.parametrize("argv, env, distribution", [
    ([], {}, None),                                   # Slurm's default, chosen by the layout
    (["-m", "block"], {}, "block"),
    (["-m", "*"], {}, None),
    (["-m", "cyclic"], {}, "cyclic"),
    (["-m", "Cyclic:block"], {}, "cyclic"),
    ([], {"SLURM_DISTRIBUTION": "cyclic"}, None),     # an enclosing step's default
    ([], {"SLURM_DISTRIBUTION": "block"}, "block"),
])
def test_the_distribution_a_step_asks_for(argv, env, distribution):
    request = parse([*argv, "true"], dict(INSIDE, **env))
    assert request.step_request(cwd="/", env={}, io=None).distribution == distribution


def test_how_cpus_are_picked_within_a_node_is_said_to_be_ignored():
    assert parse(["-m", "block:cyclic", "true"]).warnings == [
        "-m/--distribution=block:cyclic: only how tasks go to nodes (block) is applied; "
        "tasks are not bound to CPUs one by one"]
    assert parse(["-m", "cyclic", "true"]).warnings == []


def test_outside_a_job_srun_n_spreads_its_allocation():
    job = parse(["-n", "3", "hostname"], {}).submission(cwd="/", env={}, submit_host="h")
    assert (job.nodes, job.ntasks, job.spread, job.allocation) == (1, 3, True, True)
    job = parse(["-N", "1", "-n", "3", "hostname"], {}).submission(cwd="/", env={}, submit_host="h")
    assert not job.spread


def test_a_nodelist_alone_counts_the_nodes_and_exclusive_means_exact():
    step = parse(["-w", "a,b", "--exclusive", "true"]).step_request(cwd="/", env={}, io=None)
    assert step.nodes == 2 and step.exact


def test_allocation_options_have_no_effect_inside_a_job():
    request = parse(["-p", "gpu", "--mem=4G", "-A", "lab", "-I", "true"])
    assert request.warnings == [
        f"--{name} is ignored inside job 12: the step runs in the job's allocation"
        for name in ("partition", "mem", "account", "immediate")]
    assert request.draft.partition is None and request.immediate is None


def test_jobid_names_the_job_and_cpus_per_task_comes_from_srun_cpus_per_task():
    assert parse(["--jobid=7", "true"], {}).job_id == 7
    request = parse(["true"], dict(INSIDE, SRUN_CPUS_PER_TASK="3", SLURM_JOB_NAME="batchname"))
    step = request.step_request(cwd="/", env={}, io=None)
    assert step.cpus_per_task == 3 and step.name is None  # the job's name is not the step's
    assert parse(["-c1", "true"], dict(INSIDE, SRUN_CPUS_PER_TASK="3")).draft.cpus_per_task == 1


# --- outside a job: the allocation ------------------------------------------------------

def test_outside_a_job_srun_asks_for_an_allocation_shaped_like_sbatchs():
    env = {"PATH": "/bin"}
    request = parse(["-n4", "-c2", "-p", "gpu", "--mem=1G", "-t", "10", "-I5", "python3", "x.py"], env)
    assert not request.inside and request.immediate == 5
    job = request.submission(cwd="/work", env=env, submit_host="login")
    assert job.allocation and job.script == "" and job.name == "python3"
    assert (job.ntasks, job.cpus_per_task, job.partition, job.mem_per_node) == (4, 2, "gpu", 1024)
    assert (job.time_limit, job.submit_host, job.work_dir) == (600, "login", "/work")
    step = request.step_request(cwd="/work", env=env, io=None, extra_env={"SLURM_JOB_ID": "9"})
    assert step.ntasks == 4 and step.env == {"PATH": "/bin", "SLURM_JOB_ID": "9"}
    assert parse(["-J", "mine", "true"], {"SLURM_JOB_NAME": "env"}).draft.name == "mine"
    assert parse(["true"], {"SLURM_JOB_NAME": "env"}).draft.name == "env"


def test_the_table_builds_a_parser():
    assert TABLE.parser.prog == "srun"


@pytest.mark.parametrize("argv, message", [
    (["-N1", "-w", "a,b"], "Node count specification invalid"),
    (["--mem=1G", "--mem-per-cpu=1G"], "--mem and --mem-per-cpu are mutually exclusive"),
])
def test_rules_between_options_are_checked_when_parsing(argv, message):
    assert error_of([*argv, "true"], {}).startswith(message)
