"""The sbatch command: argv into a Submission, and its errors, with no controller.

Every case here fails (or finishes) before the command connects to anything; the
environment points the client at a socket nobody serves and forbids starting one, so a
case that wrongly got as far as submitting fails instead of queueing a job.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from kairos.cli.slurm.sbatch import main
from kairos.slurm.sbatch import parse_submission


@pytest.fixture(autouse=True)
def no_controller(tmp_path, monkeypatch):
    monkeypatch.setenv("KAIROS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAIROS_SOCKET", str(tmp_path / "nobody.sock"))
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("SBATCH_")]:
        monkeypatch.delenv(name)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_a_typical_gpu_training_script(tmp_path):
    text = ("#!/bin/bash\n"
            "#SBATCH --job-name=train\n"
            "#SBATCH --partition=gpu\n"
            "#SBATCH --gres=gpu:a100:2\n"
            "#SBATCH --cpus-per-task=8\n"
            "#SBATCH --mem=64G\n"
            "#SBATCH --time=1-00:00:00\n"
            "#SBATCH --array=0-9%2\n"
            "#SBATCH --output=logs/%x-%A_%a.out\n"
            "#SBATCH --mail-type=END\n"
            "\n"
            "module load cuda\n"
            "python train.py --fold $SLURM_ARRAY_TASK_ID\n")
    write(tmp_path, "train.sh", text)
    spec = parse_submission(["-t", "12:00:00", "train.sh", "--lr", "0.1"], cwd=str(tmp_path),
                            env={"PATH": "/usr/bin", "SBATCH_QOS": "high"}, now=0.0,
                            submit_host="login1")
    assert spec.script == text and spec.argv == ["--lr", "0.1"]
    assert (spec.name, spec.partition, spec.qos) == ("train", "gpu", "high")
    assert spec.gpus == [("a100", 2)] and spec.cpus_per_task == 8
    assert spec.mem_per_node == 65536 and spec.time_limit == 12 * 3600
    assert spec.array == "0-9%2" and spec.stdout == "logs/%x-%A_%a.out"
    assert spec.work_dir == str(tmp_path) and spec.environment["PATH"] == "/usr/bin"


@pytest.mark.parametrize("script, message", [
    ("#!/bin/bash\n#SBATCH -J ok\n#SBATCH --foo\necho hi\n",
     "sbatch: error: line 3: unrecognized option '--foo'"),
    ("#!/bin/bash\n#SBATCH -J ok\n\n#SBATCH --time=1:xx\necho hi\n",
     "sbatch: error: line 4: invalid --time value '1:xx': use minutes, minutes:seconds"),
    ("echo hi\n", "sbatch: error: this does not look like a batch script"),
    ("#!/bin/sh\n#SBATCH --mem=1G\n#SBATCH --mem-per-cpu=1G\ntrue\n",
     "sbatch: error: --mem and --mem-per-cpu are mutually exclusive"),
    ("#!/bin/sh\n#SBATCH -d afterok:1?afterok:2\ntrue\n",
     "sbatch: error: line 2: invalid --dependency value 'afterok:1?afterok:2': '?' (any "
     "of) dependencies are not supported"),
])
def test_malformed_scripts_fail_with_status_1_before_connecting(tmp_path, capsys, script,
                                                                message):
    write(tmp_path, "job.sh", script)
    status, out, err = run(["job.sh"], capsys)
    assert status == 1 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--foo", "job.sh"], "sbatch: error: unrecognized option '--foo'"),
    (["-t", "1:xx", "--wrap", "true"], "sbatch: error: invalid --time value '1:xx'"),
    (["--mem", "1G", "--mem-per-cpu", "1G", "--wrap", "true"],
     "sbatch: error: --mem and --mem-per-cpu are mutually exclusive"),
    (["--wrap", "echo a", "extra"],
     "sbatch: error: script arguments are not allowed with --wrap"),
    (["missing.sh"], "sbatch: error: unable to open file missing.sh"),
    (["--gres=nvme:1", "--wrap", "true"], "sbatch: error: invalid --gres value 'nvme:1'"),
    # options whose honouring would change what runs or where: refused, saying why
    (["--mail-type=END", "--reservation=maint", "--wrap", "true"],
     "sbatch: error: --reservation is not supported: reservations are not supported; name "
     "the nodes with -w/--nodelist\n"),
    (["-i", "in.txt", "--wrap", "true"],
     "sbatch: error: --input is not supported: the batch script's standard input is "
     "/dev/null; redirect it in the script (command < file)\n"),
    (["--gpus-per-task=1", "--wrap", "true"],
     "sbatch: error: --gpus-per-task is not supported: give GPUs per node with "
     "--gpus-per-node\n"),
])
def test_bad_command_lines(capsys, argv, message):
    status, out, err = run(argv, capsys)
    assert status == 1 and out == "" and err.startswith(message)


def test_refused_options_from_directives_and_variables_name_their_source(tmp_path, capsys,
                                                                         monkeypatch):
    write(tmp_path, "job.sh", "#!/bin/sh\n#SBATCH --licenses=matlab\ntrue\n")
    status, out, err = run(["job.sh"], capsys)
    assert (status, out) == (1, "")
    assert err == ("sbatch: error: line 2: --licenses is not supported: licenses are not "
                   "supported; leave the option out\n")
    monkeypatch.setenv("SBATCH_RESERVATION", "maint")
    status, _, err = run(["--wrap", "true"], capsys)
    assert status == 1 and err.startswith("sbatch: error: SBATCH_RESERVATION: --reservation "
                                          "is not supported")


def test_ignored_options_are_warned_about_once_each_before_submitting(tmp_path, capsys):
    write(tmp_path, "job.sh", "#!/bin/sh\n#SBATCH --mail-type=END\n#SBATCH --mail-type=FAIL\n"
                              "#SBATCH --prefer=fast\ntrue\n")
    # the controller is unreachable here: the warnings come first, then the failure
    status, out, err = run(["--mail-user=a@b.c", "job.sh"], capsys)
    assert (status, out) == (1, "")
    assert err.splitlines()[:3] == [
        "sbatch: warning: line 2: --mail-type is ignored: Kairos sends no mail",
        "sbatch: warning: line 4: --prefer is ignored: soft constraints are not used: the "
        "nodes are chosen without them",
        "sbatch: warning: --mail-user is ignored: Kairos sends no mail"]
    assert err.splitlines()[3].startswith("sbatch: error: Batch job submission failed: ")
    status, _, err = run(["-Q", "--mail-user=a@b.c", "job.sh"], capsys)
    assert status == 1 and "warning" not in err


def test_script_from_standard_input_is_checked(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("echo no shebang\n"))
    status, _, err = run(["-J", "piped"], capsys)
    assert status == 1 and "does not look like a batch script" in err


def test_help_and_version_need_no_script(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0 and "--job-name" in out and "--mail-type" in out
    status, out, _ = run(["-V"], capsys)
    assert status == 0 and out.startswith("kairos ")
    status, out, _ = run(["--usage"], capsys)
    assert status == 0 and out.startswith("Usage: sbatch")


def test_an_unreachable_controller_is_an_error_not_a_crash(capsys):
    # a valid submission, but $KAIROS_SOCKET names a socket nobody serves
    status, out, err = run(["--wrap", "true"], capsys)
    assert status == 1 and out == ""
    assert err.startswith("sbatch: error: Batch job submission failed: ")


def test_the_command_imports_nothing_heavy():
    code = ("import sys; from kairos.cli.slurm.sbatch import main; main(['--foo']); "
            "heavy = {'fastapi', 'sqlalchemy', 'typer', 'numpy', 'psutil', 'httpx', "
            "'kairos.server', 'kairos.core'}; "
            "print(sorted(m for m in sys.modules if m in heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
    assert "unrecognized option '--foo'" in result.stderr
