"""salloc's command line: the allocation it asks for, the command it runs, and what
every option of salloc's help becomes (the peer's option table)."""

from __future__ import annotations

import signal

import pytest

from kairos.slurm.option_engine import SlurmOptionError
from kairos.slurm.salloc import OptionSyntaxError, parse_salloc
from kairos.slurm.salloc_options import OPTIONS

NOW = 1_790_000_000.0

#: Every option ``salloc --help`` of Slurm 22.05 lists (the peer's).
SALLOC_HELP = """--account --bb --bbf --begin --bell --chdir --cluster-constraint --clusters
--comment --constraint --container --contiguous --core-spec --cores-per-socket --cpu-freq
--cpus-per-gpu --cpus-per-task --deadline --delay-boot --dependency --distribution
--exclude --exclusive --extra-node-info --get-user-env --gid --gpu-bind --gpu-freq --gpus
--gpus-per-node --gpus-per-socket --gpus-per-task --gres --gres-flags --help --hold
--immediate --job-name --kill-command --licenses --mail-type --mail-user --mcs-label
--mem --mem-per-cpu --mem-per-gpu --mincpus --nice --no-bell --no-kill --nodefile
--nodelist --nodes --ntasks --ntasks-per-core --ntasks-per-node --ntasks-per-socket
--overcommit --oversubscribe --partition --power --priority --profile --qos --quiet
--reboot --reservation --signal --sockets-per-node --spread-job --switches --thread-spec
--threads-per-core --time --time-min --tmp --uid --usage --use-min-nodes --verbose
--version --wckey""".split()


def parse(argv, env=None):
    return parse_salloc(argv, {"SHELL": "/bin/bash"} if env is None else env, now=NOW)


def test_the_allocation_and_the_command():
    request = parse(["-n2", "-c", "2", "-p", "gpu", "-t", "1:00:00", "-D", "sub",
                     "srun", "-l", "hostname"])
    assert request.command == ["srun", "-l", "hostname"]
    job = request.submission(cwd="/work", env={"A": "1"}, submit_host="login")
    assert job.allocation and job.script == "" and job.name == "interactive"
    assert (job.ntasks, job.cpus_per_task, job.partition, job.time_limit) == (2, 2, "gpu", 3600)
    assert job.work_dir == "/work/sub" and request.work_dir("/work") == "/work/sub"
    assert job.spread and job.nodes == 1  # -n without -N: as many nodes as the tasks need
    assert parse(["-J", "mine"]).submission(cwd="/", env={}, submit_host="h").name == "mine"


def test_the_default_command_is_the_users_shell():
    assert parse([]).command == ["/bin/bash"]
    assert parse([], {}).command == ["/bin/sh"]


def test_kill_command_and_immediate():
    assert parse(["-K"]).kill_signal == signal.SIGTERM
    assert parse(["-KUSR1"]).kill_signal == signal.SIGUSR1
    assert parse(["--kill-command=9"]).kill_signal == 9
    assert parse(["-I"]).immediate == 1.0 and parse(["-I10"]).immediate == 10.0
    assert parse(["-Q"]).quiet and parse(["-vv"]).verbose == 2


def test_variables_below_the_command_line():
    env = {"SALLOC_PARTITION": "gpu", "SALLOC_TIMELIMIT": "5"}
    assert parse([], env).draft.partition == "gpu"
    assert parse(["-p", "cpu"], env).draft.partition == "cpu"
    assert parse([], env).draft.time_limit == 300


def test_every_option_of_sallocs_help_is_honoured_ignored_or_refused():
    known = {f"--{o.long}" for o in OPTIONS}
    assert not [name for name in SALLOC_HELP if name not in known]
    assert len(OPTIONS) == 95  # the peer's getopt table: its hidden options too
    assert parse(["--bell", "--mail-type=ALL"]).warnings == [
        "--bell is ignored: salloc rings no bell", "--mail-type is ignored: Kairos sends no mail"]


@pytest.mark.parametrize("argv, message", [
    (["--no-shell"], "--no-shell is not supported: an allocation lasts as long as salloc holds it"),
    (["-F", "hosts"], "--nodefile is not supported: list the nodes with -w/--nodelist"),
    (["-K", "NOPE"], None),  # a separate word: the command, not the signal
    (["-KNOPE"], "Invalid signal name: NOPE"),
    (["--uid=0"], "--uid is not supported: only root may run a job as another user"),
])
def test_refusals(argv, message):
    if message is None:
        assert parse(argv).command == ["NOPE"]
        return
    with pytest.raises(SlurmOptionError) as caught:
        parse(argv)
    assert str(caught.value).startswith(message)


def test_getopt_errors_in_sallocs_words():
    with pytest.raises(OptionSyntaxError) as caught:
        parse(["--nod=1"])
    assert str(caught.value) == ("salloc: option '--nod=1' is ambiguous; possibilities: "
                                 "'--nodefile' '--nodelist' '--nodes'\n"
                                 'Try "salloc --help" for more information')
