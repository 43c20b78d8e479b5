"""sbatch options and #SBATCH directives into a Submission (behaviour checked on a
Slurm 22.05 peer where noted)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from kairos.model import Submission
from kairos.slurm.sbatch import (SbatchError, forecast_message, parse_command_line,
                                 parse_sbatch, parse_submission, submitted_message)
from kairos.slurm.sbatch_options import OPTIONS, usage_text

NOW = datetime(2026, 11, 25, 3, 48, 52).timestamp()
SCRIPT = "#!/bin/bash\necho hi\n"


@pytest.fixture
def submit(tmp_path):
    """``submit(argv, script=..., env=...)``: the Submission, script given as text."""
    def run(argv, script=SCRIPT, env=None, stdin=None, request=False):
        parse = parse_sbatch if request else parse_submission
        return parse(argv, script_text=script, stdin_text=stdin, cwd=str(tmp_path),
                     env={} if env is None else env, now=NOW, submit_host="login1")
    return run


def script(*directives: str, body: str = "srun hostname\n") -> str:
    return "#!/bin/bash\n" + "".join(f"{d}\n" for d in directives) + body


def error_of(call) -> str:
    with pytest.raises(SbatchError) as error:
        call()
    return str(error.value)


# --- defaults and the wire format ----------------------------------------------------

def test_defaults(submit, tmp_path):
    spec = submit(["job.sh", "a", "b"], env={"HOME": "/home/u"})
    assert spec.script == SCRIPT and spec.argv == ["a", "b"]
    assert spec.name == "job.sh" and spec.work_dir == str(tmp_path)
    assert spec.stdout == "slurm-%j.out" and spec.stderr is None
    assert (spec.time_limit, spec.time_min, spec.begin) == (None, None, None)
    assert (spec.nodes, spec.ntasks, spec.cpus_per_task) == (1, 1, 1)
    assert (spec.mem_per_node, spec.mem_per_cpu, spec.gpus) == (None, None, [])
    assert (spec.partition, spec.qos, spec.account, spec.array, spec.dependency) == (None,) * 5
    assert (spec.hold, spec.nice, spec.test_only) == (False, 0, False)
    assert spec.export == "ALL" and spec.environment == {"HOME": "/home/u"}
    assert spec.submit_host == "login1"


def test_what_was_asked_for_explicitly_is_marked(submit):
    plain = submit(["job.sh"])
    sized = submit(["-n", "1", "-c", "2", "-D", "sub", "job.sh"])
    assert (plain.cpus_per_task_set, plain.ntasks_set) == (False, False)
    assert (sized.cpus_per_task_set, sized.ntasks_set) == (True, True)
    assert sized.submit_dir == plain.work_dir and sized.work_dir.endswith("/sub")


def test_json_round_trip(submit):
    spec = submit(["-G", "a100:2", "-t", "1:00:00", "--begin=now+60", "job.sh", "x"],
                  env={"A": "1"})
    wire = json.loads(json.dumps(spec.to_json()))
    assert wire["gpus"] == [["a100", 2]]
    assert Submission.from_json(wire) == spec


# --- getopt_long forms ---------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--time=5", "job.sh"], ["--time", "5", "job.sh"], ["-t5", "job.sh"],
    ["-t", "5", "job.sh"], ["--hol", "-t5", "job.sh"], ["--time-m=1", "-t", "5", "job.sh"],
])
def test_option_spellings(submit, argv):
    assert submit(argv).time_limit == 300


def test_bundled_short_options(submit):
    spec = submit(["-Hc4", "job.sh"])
    assert spec.hold and spec.cpus_per_task == 4


def test_options_after_the_script_belong_to_the_script(submit):
    spec = submit(["-J", "x", "job.sh", "-t", "5", "--", "y"])
    assert spec.argv == ["-t", "5", "--", "y"] and spec.time_limit is None


def test_double_dash_ends_options(submit):
    spec = submit(["-t", "1", "--", "-weird.sh", "1"])
    assert spec.name == "-weird.sh" and spec.argv == ["1"]


@pytest.mark.parametrize("argv, message", [
    (["--foo", "job.sh"], "unrecognized option '--foo'"),
    (["--x11", "job.sh"], "unrecognized option '--x11'"),  # srun's and salloc's only
    (["-Z", "job.sh"], "invalid option -- 'Z'"),
    (["--mem-", "1", "job.sh"], "option '--mem-' is ambiguous"),
    (["--hold=yes", "job.sh"], "option '--hold' doesn't allow an argument"),
    (["job.sh", "--time"], None),
    (["--time"], "option '--time' requires an argument"),
    (["-t"], "option requires an argument -- 't'"),
])
def test_command_line_errors_use_getopt_wording(submit, argv, message):
    if message is None:  # after the script name nothing is an sbatch option
        assert submit(argv).argv == ["--time"]
        return
    assert error_of(lambda: submit(argv)).startswith(message)


@pytest.mark.parametrize("argv, message", [
    (["--mem-", "1", "job.sh"],
     # the peer's words: getopt's order, which names --mem-per-gpu too
     "option '--mem-' is ambiguous; possibilities: '--mem-bind' '--mem-per-cpu' "
     "'--mem-per-gpu'"),
    (["--hold=yes", "job.sh"], "option '--hold' doesn't allow an argument"),
    (["-HZ", "job.sh"], "invalid option -- 'Z' (see sbatch --help)"),
    (["--foo=1", "job.sh"], "unrecognized option '--foo' (see sbatch --help)"),
    (["-Ht"], "option requires an argument -- 't'"),
    (["--wra"], "option '--wrap' requires an argument"),
    # the first error is the one reported
    (["--foo", "--time"], "unrecognized option '--foo' (see sbatch --help)"),
    (["--hold=1", "--mem-"], "option '--hold' doesn't allow an argument"),
])
def test_getopt_error_words(submit, argv, message):
    assert error_of(lambda: submit(argv)) == message


@pytest.mark.parametrize("argv, nice, name", [
    (["--nice", "job.sh"], 100, "job.sh"),  # an optional value is only ever attached
    (["--ni", "job.sh"], 100, "job.sh"),
    (["--nice=5", "job.sh"], 5, "job.sh"),
    (["-k", "job.sh"], 0, "job.sh"),
    (["-Hk", "job.sh"], 0, "job.sh"),
    (["-k5", "--exclusive", "job.sh"], 0, "job.sh"),
])
def test_optional_values_must_be_attached(submit, argv, nice, name):
    spec = submit(argv)
    assert (spec.nice, spec.name, spec.argv) == (nice, name, [])


def test_values_may_look_like_options(submit):
    spec = submit(["-J", "-x", "--output", "--odd", "--part", "p", "job.sh"])
    assert (spec.name, spec.stdout, spec.partition) == ("-x", "--odd", "p")
    assert "invalid --time value '=5'" in error_of(lambda: submit(["-t=5", "job.sh"]))


def test_the_scripts_arguments_are_not_read(submit):
    spec = submit(["job.sh", "--mem-", "--foo", "-HZ", "--nice", "x"])
    assert spec.argv == ["--mem-", "--foo", "-HZ", "--nice", "x"] and spec.nice == 0


def test_double_dash_ends_a_directive(submit):
    spec = submit(["job.sh"], script=script("#SBATCH -J a -- ignored words"))
    assert spec.name == "a"


def test_command_line_without_script():
    line = parse_command_line(["--wrap", "echo hi", "-p", "gpu"])
    assert line.script_path is None and line.wrap == "echo hi" and line.info is None
    assert [s.option.long for s in line.settings] == ["wrap", "partition"]
    assert parse_command_line(["-p", "x", "--help"]).info == "help"
    assert parse_command_line(["-V"]).info == "version"


# --- directives ------------------------------------------------------------------------

def test_directives_until_the_first_command(submit):
    text = script("#SBATCH -J name1 # a comment", "#SBATCH --time=10   # ten minutes",
                  "# SBATCH -p nope", "#SBATCH --output=out-%j.txt #x", "   ", "",
                  "  #SBATCH -q indented", "#SBATCH --account=acct",
                  body="echo hi\n#SBATCH -J late\n")
    spec = submit(["job.sh"], script=text)
    assert spec.name == "name1" and spec.time_limit == 600
    assert spec.stdout == "out-%j.txt" and spec.account == "acct"
    assert spec.partition is None and spec.qos is None


def test_hash_outside_quotes_ends_a_directive_like_the_peer(submit):
    text = script("#SBATCH -J a#b -t 5", "#SBATCH --comment='x y' --nice=3",
                  "#SBATCH\t--account=foo", "#SBATCH--qos=bar", '#SBATCH -o "o u t.txt"',
                  '#SBATCH -e "e#1.txt"')
    spec = submit(["job.sh"], script=text)
    assert spec.name == "a" and spec.time_limit is None
    assert spec.nice == 3 and spec.account == "foo" and spec.qos == "bar"
    assert spec.stdout == "o u t.txt" and spec.stderr == "e#1.txt"


def test_last_directive_wins(submit):
    spec = submit(["job.sh"], script=script("#SBATCH -J one", "#SBATCH -J two"))
    assert spec.name == "two"


def test_precedence_command_line_over_environment_over_directives(submit):
    text = script("#SBATCH -J directive", "#SBATCH -t 5", "#SBATCH -p dpart",
                  "#SBATCH -A dacct")
    env = {"SBATCH_JOB_NAME": "envname", "SBATCH_TIMELIMIT": "7", "SBATCH_PARTITION": "epart"}
    spec = submit(["-J", "cli", "job.sh"], script=text, env=env)
    assert (spec.name, spec.time_limit, spec.partition, spec.account) == \
        ("cli", 420, "epart", "dacct")


def test_environment_variables(submit):
    env = {"SBATCH_ACCOUNT": "a", "SBATCH_ARRAY_INX": "0-3", "SBATCH_ERROR": "e.txt",
           "SBATCH_OUTPUT": "o.txt", "SBATCH_QOS": "q", "SBATCH_MEM_PER_NODE": "2G",
           "SBATCH_GRES": "gpu:1", "SBATCH_EXPORT": "NONE", "SLURM_X": "1"}
    spec = submit(["job.sh"], env=env)
    assert (spec.account, spec.array, spec.stderr, spec.stdout, spec.qos) == \
        ("a", "0-3", "e.txt", "o.txt", "q")
    assert spec.mem_per_node == 2048 and spec.gpus == [(None, 1)]
    assert spec.export == "NONE" and spec.environment == {"SLURM_X": "1"}


@pytest.mark.parametrize("directive, message", [
    ("#SBATCH --foo", "line 3: unrecognized option '--foo'"),
    ("#SBATCH --time=1:xx", "line 3: invalid --time value '1:xx': use minutes"),
    ("#SBATCH -p", "line 3: option requires an argument -- 'p'"),
    ("#SBATCH -J x y", "line 3: invalid directive 'y'"),
    ('#SBATCH -J "unterminated', 'line 3: unmatched quote (")'),
    ("#SBATCH --array=5-2", "line 3: invalid --array value '5-2': range '5-2' goes down"),
    ("#SBATCH --gres=foo:1", "line 3: invalid --gres value 'foo:1': generic resource "
                             "'foo' is not supported"),
    ("#SBATCH -d afterok:1?afterok:2", "line 3: invalid --dependency value"),
    ("#SBATCH --mem=1.5G", "line 3: invalid --mem value '1.5G': use a whole number"),
    ("#SBATCH -c x", "line 3: invalid --cpus-per-task value 'x': use a whole number"),
    ("#SBATCH -N 0", "line 3: invalid --nodes value '0'"),
    ("#SBATCH -N 2-4", "line 3: invalid --nodes value '2-4': node count ranges"),
    ("#SBATCH --nice=abc", "line 3: invalid --nice value 'abc'"),
    ("#SBATCH --begin=garbage", "line 3: invalid --begin value 'garbage': use now"),
    ("#SBATCH --export=NONE,X=1", "line 3: invalid --export value 'NONE,X=1': NONE "
                                  "cannot be combined"),
    ("#SBATCH --wrap=true", "line 3: --wrap is only allowed on the command line"),
    ("#SBATCH -p ''", "line 3: invalid --partition value '': it is empty"),
])
def test_bad_directives_name_their_line(submit, directive, message):
    text = script("#SBATCH -J fine", directive)
    assert error_of(lambda: submit(["job.sh"], script=text)).startswith(message)


def test_bad_environment_value_names_the_variable(submit):
    message = error_of(lambda: submit(["job.sh"], env={"SBATCH_TIMELIMIT": "soon"}))
    assert message.startswith("SBATCH_TIMELIMIT: invalid --time value 'soon'")


def test_command_line_value_errors_have_no_prefix(submit):
    assert error_of(lambda: submit(["-t", "1:xx", "job.sh"])).startswith(
        "invalid --time value '1:xx'")


# --- the script itself -------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("echo hi\n", "the first line must start with #!"),
    ("", "the batch script is empty"),
    ("#!/bin/sh\r\necho\r\n", "DOS line breaks"),
    ("#!/bin/sh\necho \0\n", "NUL"),
])
def test_scripts_slurm_refuses(submit, text, fragment):
    assert fragment in error_of(lambda: submit(["job.sh"], script=text))


def test_script_is_read_from_the_file_relative_to_cwd(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.sh").write_text(script("#SBATCH -t 2"))
    spec = parse_submission(["sub/run.sh"], cwd=str(tmp_path), env={}, now=NOW,
                            submit_host="h")
    assert spec.name == "run.sh" and spec.time_limit == 120


def test_missing_script_file(tmp_path):
    message = error_of(lambda: parse_submission(["nope.sh"], cwd=str(tmp_path), env={},
                                                now=NOW, submit_host="h"))
    assert message.startswith("unable to open file nope.sh")


def test_wrap_makes_a_sh_script(submit):
    spec = submit(["--wrap", "echo a && echo b", "-J", "w2"], script=None)
    assert spec.script == "#!/bin/sh\necho a && echo b\n" and spec.name == "w2"
    assert submit(["--wrap=true"], script=None).name == "wrap"


def test_wrap_refuses_script_arguments(submit):
    message = error_of(lambda: submit(["--wrap", "echo a", "extra"], script=None))
    assert "script arguments are not allowed with --wrap" in message


def test_script_from_standard_input(submit):
    spec = submit([], script=None, stdin=script("#SBATCH -J piped"))
    assert spec.name == "piped"
    assert submit(["-t", "1"], script=None, stdin=SCRIPT).name == "sbatch"
    assert "no batch script" in error_of(lambda: submit([], script=None))


# --- values --------------------------------------------------------------------------

@pytest.mark.parametrize("value, limit", [("0", None), ("UNLIMITED", None),
                                          ("-1", None), ("1-", None)])
def test_time_zero_means_no_limit(submit, value, limit):
    if value == "1-":  # the peer takes it as a day; Kairos asks for a valid form
        assert "invalid --time value" in error_of(lambda: submit(["-t", value, "j.sh"]))
        return
    assert submit(["-t", value, "job.sh"]).time_limit == limit


def test_time_min(submit):
    assert submit(["--time-min=30", "-t", "60", "job.sh"]).time_min == 1800


def test_array_sets_the_default_output(submit):
    spec = submit(["--array=0-15:4%2", "job.sh"])
    assert spec.array == "0-15:4%2" and spec.stdout == "slurm-%A_%a.out"
    assert submit(["-a", "1-3", "-o", "x-%a.out", "job.sh"]).stdout == "x-%a.out"


def test_dependency_and_begin(submit):
    spec = submit(["-d", "afterok:12:13,singleton", "--begin=now+1hour", "job.sh"])
    assert spec.dependency == "afterok:12:13,singleton" and spec.begin == NOW + 3600


def test_chdir_resolves_against_cwd_but_patterns_stay(submit, tmp_path):
    assert submit(["-D", "runs/%j", "job.sh"]).work_dir == str(tmp_path / "runs" / "%j")
    assert submit(["-D", "/abs/dir", "job.sh"]).work_dir == "/abs/dir"
    assert submit(["-D", "..", "job.sh"]).work_dir == str(tmp_path.parent)
    spec = submit(["-o", "logs/%x-%j.out", "-e", "logs/%x-%j.err", "job.sh"])
    assert (spec.stdout, spec.stderr) == ("logs/%x-%j.out", "logs/%x-%j.err")


def test_resources(submit):
    spec = submit(["-N", "2", "-n", "8", "-c", "4", "--mem=4G", "job.sh"])
    assert (spec.nodes, spec.ntasks, spec.cpus_per_task, spec.mem_per_node) == (2, 8, 4, 4096)
    assert submit(["--mem-per-cpu=512", "job.sh"]).mem_per_cpu == 512


def test_ntasks_per_node(submit):
    assert submit(["-N", "3", "--ntasks-per-node=2", "job.sh"]).ntasks == 6
    assert submit(["-N", "3", "--ntasks-per-node=2", "-n", "4", "job.sh"]).ntasks == 4


@pytest.mark.parametrize("argv, directives", [
    (["--mem=1G", "--mem-per-cpu=1G"], ()),
    (["--mem-per-cpu=2G"], ("#SBATCH --mem=1G",)),   # the peer refuses this too
])
def test_mem_and_mem_per_cpu_are_exclusive(submit, argv, directives):
    message = error_of(lambda: submit([*argv, "job.sh"], script=script(*directives)))
    assert "--mem and --mem-per-cpu are mutually exclusive" in message


@pytest.mark.parametrize("argv, gpus", [
    (["--gres=gpu:2"], [(None, 2)]),
    (["--gres=gpu:a100:2,gpu:v100:1"], [("a100", 2), ("v100", 1)]),
    (["--gpus=a100:2"], [("a100", 2)]),
    (["-G", "4", "-N", "2"], [(None, 2)]),            # --gpus counts the whole job
    (["--gpus-per-node=3", "-N", "2"], [(None, 3)]),
    (["--gres=gpu:2", "-N", "2"], [(None, 2)]),       # --gres is per node
    (["--gres=gpu:0"], []),
    (["--gres=gpu:1", "--gres=none"], []),
])
def test_gpus_per_node(submit, argv, gpus):
    assert submit([*argv, "job.sh"]).gpus == gpus


def test_gpus_that_do_not_split_evenly(submit):
    message = error_of(lambda: submit(["--gpus=3", "-N", "2", "job.sh"]))
    assert "--gpus=3 cannot be split evenly over 2 nodes" in message


@pytest.mark.parametrize("argv, nice", [(["--nice"], 100), (["--nice=-5"], -5),
                                        (["--nice=7"], 7)])
def test_nice(submit, argv, nice):
    assert submit([*argv, "job.sh"]).nice == nice


def test_flags(submit):
    request = submit(["-H", "--parsable", "--test-only", "job.sh"], request=True)
    assert request.parsable and request.submission.hold and request.submission.test_only
    assert not submit(["job.sh"], request=True).parsable


ENV = {"FOO": "orig", "BAR": "b", "SLURM_MINE": "m"}


@pytest.mark.parametrize("export, environment", [
    ("ALL", ENV),
    ("NONE", {"SLURM_MINE": "m"}),                            # as on the peer
    ("ALL,FOO=new", {**ENV, "FOO": "new"}),
    ("FOO,BAZ=z", {"SLURM_MINE": "m", "FOO": "orig", "BAZ": "z"}),
    ("none", {"SLURM_MINE": "m"}),
    ("MISSING", {"SLURM_MINE": "m"}),
])
def test_export(submit, export, environment):
    spec = submit([f"--export={export}", "job.sh"], env=ENV)
    assert spec.environment == environment and spec.export == export


@pytest.mark.parametrize("export", ["", "1BAD=x", "NONE,FOO"])
def test_bad_export(submit, export):
    assert "invalid --export value" in error_of(lambda: submit([f"--export={export}", "job.sh"]))


def test_harmless_options_change_nothing_and_say_so(submit):
    text = script("#SBATCH --mail-type=END,FAIL", "#SBATCH --mail-user=a@b.c",
                  "#SBATCH --contiguous", "#SBATCH --hint=nomultithread",
                  "#SBATCH --mail-type=ALL")
    request = submit(["-v", "-Q", "-s", "--hint=compute_bound", "job.sh"], script=text,
                     env={"SBATCH_PROFILE": "task"}, request=True)
    plain = submit(["job.sh"], script=text.replace("#SBATCH", "#"),
                   env={"SBATCH_PROFILE": "task"})
    assert request.submission == replace(plain, script=text)
    # one warning per option, naming where it was first set and why nothing changes
    assert request.warnings == (
        "line 2: --mail-type is ignored: Kairos sends no mail",
        "line 3: --mail-user is ignored: Kairos sends no mail",
        "line 4: --contiguous is ignored: nodes are not chosen by their position",
        "line 5: --hint is ignored: tasks are not bound to particular CPUs or memory: a "
        "step uses its job's cores",
        "SBATCH_PROFILE: --profile is ignored: usage is sampled at the end of each step",
        "--oversubscribe is ignored: nodes are shared by CPUs as the job asked")
    assert request.quiet and request.verbose == 1


# --- node selection ------------------------------------------------------------------

def test_node_selection_defaults(submit):
    spec = submit(["job.sh"])
    assert (spec.exclusive, spec.nodelist, spec.exclude, spec.constraint) == \
        (False, [], [], None)
    assert spec.requeue is None and spec.allocation is False


def test_node_selection_options(submit):
    text = script("#SBATCH --exclusive", "#SBATCH -C 'ib&fast'", "#SBATCH --no-requeue")
    spec = submit(["-w", "n[1-2]", "-x", "n5", "-N", "3", "job.sh"], script=text)
    assert spec.exclusive and spec.constraint == "ib&fast" and spec.requeue is False
    assert (spec.nodelist, spec.exclude, spec.nodes, spec.ntasks) == (["n1", "n2"], ["n5"], 3, 3)
    wire = json.loads(json.dumps(spec.to_json()))
    assert Submission.from_json(wire) == spec


@pytest.mark.parametrize("argv, env, requeue", [
    (["--requeue"], {}, True),
    (["--no-requeue"], {}, False),
    (["--requeue", "--no-requeue"], {}, False),            # the last one wins
    (["--requeue"], {"SBATCH_NO_REQUEUE": "1"}, True),     # the command line over SBATCH_*
    ([], {"SBATCH_REQUEUE": "1"}, True),
])
def test_requeue(submit, argv, env, requeue):
    assert submit([*argv, "job.sh"], env=env).requeue is requeue


@pytest.mark.parametrize("argv, env", [
    (["--exclusive"], {}),
    (["--exclus"], {}),
    ([], {"SBATCH_EXCLUSIVE": ""}),
])
def test_exclusive(submit, argv, env):
    assert submit([*argv, "job.sh"], env=env).exclusive


def test_constraint_from_the_environment_and_empty(submit):
    assert submit(["job.sh"], env={"SBATCH_CONSTRAINT": "a|b"}).constraint == "a|b"
    assert submit(["-C", "", "job.sh"]).constraint is None  # Slurm: no constraint


@pytest.mark.parametrize("argv, nodes, ntasks", [
    (["-w", "a,b"], 2, 2),                  # no -N: as many nodes as named (Slurm)
    (["-w", "a[1-3],a2"], 3, 3),            # a name counts once
    (["-w", "a,b", "-N", "4"], 4, 4),       # the others are chosen freely
    (["-w", "a,b", "-N", "2", "-n", "8"], 2, 8),
    (["--nodelist=a,b", "--ntasks-per-node=2"], 2, 4),
])
def test_nodelist_sets_the_node_count(submit, argv, nodes, ntasks):
    spec = submit([*argv, "job.sh"])
    assert (spec.nodes, spec.ntasks) == (nodes, ntasks)


@pytest.mark.parametrize("argv, nodes, ntasks, spread", [
    (["-n", "3"], 1, 3, True),                          # -n without -N: as many as needed
    (["-n", "3", "-c", "2", "--exclusive"], 1, 3, True),
    (["-n", "3", "-w", "a"], 1, 3, True),               # a, then others if need be
    (["-n", "3", "-w", "a[1-3]"], 3, 3, False),         # one task on each named node
    (["-n", "1"], 1, 1, False),
    (["-N", "1", "-n", "3"], 1, 3, False),              # -N given: exactly that many
    (["-N", "2"], 2, 2, False),
    (["--ntasks-per-node=2"], 1, 2, False),
    (["-n", "4", "--ntasks-per-node=2"], 2, 4, False),  # at most 2 a node: 2 nodes
    (["-n", "5", "--ntasks-per-node=2"], 3, 5, False),
    (["-n", "4", "--gpus=2"], 1, 4, False),             # a total: not split over nodes
    (["-n", "4", "--gpus-per-node=1"], 1, 4, True),
])
def test_tasks_spread_over_nodes_when_no_node_count_is_given(submit, argv, nodes, ntasks, spread):
    spec = submit([*argv, "job.sh"])
    assert (spec.nodes, spec.ntasks, spec.spread) == (nodes, ntasks, spread)


def test_the_spread_flag_and_ntasks_per_node_travel_and_old_records_keep_their_meaning(submit):
    spec = submit(["-n", "3", "job.sh"])
    assert Submission.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    old = {k: v for k, v in spec.to_json().items() if k not in ("spread", "ntasks_per_node")}
    assert Submission.from_json(old).spread is False  # held exactly ``nodes`` nodes
    assert submit(["-N2", "--ntasks-per-node=1", "job.sh"]).ntasks_per_node == 1
    assert submit(["-N2", "job.sh"]).ntasks_per_node is None


def test_gpus_split_over_the_nodes_a_nodelist_names(submit):
    assert submit(["-w", "a,b", "--gpus=4", "job.sh"]).gpus == [(None, 2)]


@pytest.mark.parametrize("argv, message", [
    # the peer's words for this ambiguous prefix
    (["--excl"], "option '--excl' is ambiguous; possibilities: '--exclude' '--exclusive'"),
    (["-N", "1", "-w", "a,b"],
     "Node count specification invalid: --nodelist names 2 nodes, more than --nodes=1"),
    (["-w", "a,b", "-x", "b,c"],
     "Invalid node name specified: b both in --nodelist and in --exclude"),
    (["--exclusive=user"], "invalid --exclusive value 'user': sharing nodes only with the "
                           "same user is not supported; use --exclusive alone"),
    (["--exclusive=mcs"], "invalid --exclusive value 'mcs': sharing nodes only with the "
                          "same mcs is not supported"),
    (["--exclusive=yes"], "invalid --exclusive value 'yes': use --exclusive alone"),
    (["-w", "./hosts"], "invalid --nodelist value './hosts': reading node names from a "
                        "file is not supported"),
    (["-w", "n[1-"], "invalid --nodelist value 'n[1-': 'n[1-' needs one bracket pair"),
    (["-x", ","], "invalid --exclude value ',': it names no node"),
    (["-w", "a b"], "invalid --nodelist value 'a b': 'a b' is not a node name"),
    (["-C", "[a|b]"], "invalid --constraint value '[a|b]': brackets (matching OR, "
                      "multiple counts) are not supported"),
    (["-C", "a*2"], "invalid --constraint value 'a*2': node counts (feature*N) are not "
                    "supported"),
    (["-C", "a&b|c"], "invalid --constraint value 'a&b|c': mixing & and | is not supported"),
    (["-C", "a,b"], "invalid --constraint value 'a,b': 'a,b' is not a feature name"),
])
def test_node_selection_errors(submit, argv, message):
    assert error_of(lambda: submit([*argv, "job.sh"])).startswith(message)


def test_node_selection_errors_name_their_source(submit):
    text = script("#SBATCH -C 'a|(b)'")
    assert error_of(lambda: submit(["job.sh"], script=text)).startswith(
        "line 2: invalid --constraint value 'a|(b)': parentheses are not supported")
    message = error_of(lambda: submit(["job.sh"], env={"SBATCH_EXCLUSIVE": "user"}))
    assert message.startswith("SBATCH_EXCLUSIVE: invalid --exclusive value 'user'")


def test_node_selection_options_are_listed_as_honoured():
    honoured = {o.long for o in OPTIONS if not o.ignored}
    assert {"exclusive", "nodelist", "exclude", "constraint", "requeue", "no-requeue"} <= honoured
    text = usage_text()
    options, ignored = text.split("Accepted with a warning, no effect:")
    for line in ("-w, --nodelist=VALUE", "-x, --exclude=VALUE", "-C, --constraint=VALUE",
                 "--exclusive[=VALUE]", "--requeue", "--no-requeue"):
        assert line in options
    assert "--requeue" not in ignored and "--exclusive" not in ignored


# --- what sbatch prints ----------------------------------------------------------------

def test_messages():
    assert submitted_message({"job_id": 12, "job_ids": [12]}, False) == "Submitted batch job 12"
    assert submitted_message({"job_id": 12, "job_ids": [12, 13]}, True) == "12"
    result = {"job_id": 15, "expected_start": datetime(2026, 11, 25, 3, 48, 8).timestamp(),
              "node_list": "vm", "cpus": 2, "partition": "debug"}
    # the peer printed exactly this line for `sbatch --test-only -n 2 --wrap true`
    assert forecast_message(result) == ("sbatch: Job 15 to start at 2026-11-25T03:48:08 "
                                         "using 2 processors on nodes vm in partition debug")
