"""The ``kairos`` command line.

Most tests drive the Typer app through ``CliRunner`` with the workload loader and the
replay patched (argument handling, output formats, error messages).  The end-to-end tests
run the installed ``kairos`` console script on a tiny SWF file written here.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import socket
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from kairos.core.order import ORDERS
from typer.testing import CliRunner

from kairos import __version__
from kairos.cli.main import app
from kairos.core import Job, Request
from kairos.sim import runs as sim_runs
from kairos.sim import workload as sim_workload

runner = CliRunner()


TINY_SWF = """\
; MaxProcs: 4
; tiny hand-made trace
1 0 -1 100 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1
2 10 -1 50 2 -1 -1 2 60 -1 1 2 1 -1 -1 -1 -1 -1
3 20 -1 10 1 -1 -1 1 10 -1 1 2 1 -1 -1 -1 -1 -1
4 30 -1 5 9 -1 -1 9 10 -1 1 2 1 -1 -1 -1 -1 -1
"""
# Job 4 asks for 9 of 4 processors: skipped.  Job 1 holds all 4 processors until 100;
# then jobs 2 and 3 start together (2 + 1 <= 4) under every policy.
#   waits 0, 90, 80; runtimes 100, 50, 10
#   bsld  1, (90 + 50) / 50 = 2.8, (80 + 10) / 10 = 9


# --- fakes -----------------------------------------------------------------------------


@dataclass
class FakeWorkload:
    name: str = "fake"
    procs: int = 8
    jobs: list = field(default_factory=list)
    runtimes: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    header: dict = field(default_factory=dict)
    header_lines: list = field(default_factory=list)
    records: dict | None = None


def fake_workload(*, records=True):
    """Three jobs; with ``records``, as if read from an SWF file."""
    spec = [(1, "7", 0.0, 100.0, 4), (2, "7", 10.0, 50.0, 8), (3, "9", 20.0, 5.0, 2)]
    jobs = [Job(i, user, submit, Request.procs(cpus), time_limit=200.0)
            for i, user, submit, _, cpus in spec]
    wl = FakeWorkload(jobs=jobs, runtimes={i: rt for i, _, _, rt, _ in spec},
                      skipped={"too_wide": 1}, header={"MaxProcs": "8"},
                      header_lines=["; MaxProcs: 8"])
    if not records:  # generated: no header either
        wl.header, wl.header_lines = {}, []
    else:
        wl.records = {i: (i, int(s), -1, int(rt), c, -1, -1, c, 200, -1, 1, int(u), 3,
                          -1, -1, -1, -1, -1)
                      for i, u, s, rt, c in spec}
    return wl


def fake_replay(workload, policy, order, *, progress=None):
    """Jobs one after another in submit order (enough to exercise the CLI)."""
    jobs, free_at = [], 0.0
    for j in workload.jobs:
        copy = Job(j.id, j.user, j.submit, j.request, j.time_limit)
        copy.start = max(free_at, j.submit)
        copy.end = free_at = copy.start + workload.runtimes[j.id]
        jobs.append(copy)
    if progress is not None:
        progress(len(jobs))
    return SimpleNamespace(workload=workload, policy=policy, order=order, jobs=jobs,
                           wall_seconds=0.01, tuning=[])


@pytest.fixture
def calls(monkeypatch):
    """Patch loading and replaying; record the arguments they get."""
    seen = SimpleNamespace(load=[], replay=[], workload=fake_workload())

    def load(trace, *, procs, limit):
        seen.load.append((trace, procs, limit))
        return seen.workload

    def replay(workload, config, order, forecast_every=0, *, progress=None):
        seen.replay.append((config.label, order))
        seen.configs = getattr(seen, "configs", []) + [config]
        return fake_replay(workload, config.label, order, progress=progress)

    monkeypatch.setattr(sim_workload, "default_workload", load)
    monkeypatch.setattr(sim_runs, "run_replay", replay)
    return seen


def invoke(*args, env=None):
    return runner.invoke(app, list(args), env=env)


# --- top level -------------------------------------------------------------------------


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"kairos {__version__}\n"


def test_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "simulate" in result.stdout and "traces" in result.stdout


def test_cli_import_is_light():
    """Start-up imports neither NumPy, Matplotlib, Rich nor the twin."""
    code = ("import sys, kairos.cli.main; "
            "print(' '.join(m for m in sys.modules "
            "if m.split('.')[0] in ('numpy', 'matplotlib', 'rich') "
            "or m.startswith('kairos.sim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == ""


# --- simulate: arguments ---------------------------------------------------------------


def test_simulate_passes_trace_procs_and_limit(calls, tmp_path):
    trace = tmp_path / "t.swf"
    result = invoke("simulate", str(trace), "--procs", "16", "--limit", "2",
                    "--policy", "fcfs", "--order", "sjf")
    assert result.exit_code == 0, result.output
    assert calls.load == [(trace, 16, 2)]
    assert calls.replay == [("fcfs", "sjf")]


def test_simulate_defaults(calls):
    result = invoke("simulate")
    assert result.exit_code == 0, result.output
    assert calls.load == [(None, None, None)]
    assert calls.replay == [("easy", "submit")]
    assert "kairos: workload fake (trace from $KAIROS_TRACES): 3 jobs on 8 processors, " \
           "1 skipped" in result.stderr


def test_simulate_says_when_the_workload_is_synthetic(calls):
    calls.workload = fake_workload(records=False)
    result = invoke("simulate", env={"KAIROS_TRACES": ""})
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.stderr and "KAIROS_TRACES" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--policy", "sjf"],
     "kairos: error: unknown policy 'sjf'; choose from: fcfs, easy, conservative\n"),
    (["--order", "lifo"],
     "kairos: error: unknown queue order 'lifo'; choose from: " + ", ".join(ORDERS) + "\n"),
    (["--compare", "fcfs,bogus"],
     "kairos: error: --compare: 'bogus' in 'bogus' is not a known name (policy: fcfs"),
    (["--compare", " , "], "kairos: error: --compare needs configurations"),
    (["--predictor", "psychic"], "kairos: error: unknown predictor 'psychic'; choose from: user"),
    (["--correction", "never"], "kairos: error: unknown correction 'never'; choose from: limit"),
    (["--plot", "chart.txt"], "kairos: error: --plot: cannot write '.txt'"),
    (["--auto", "--policy", "conservative"], "kairos: error: --auto chooses the predictor"),
    (["--auto", "--predictor", "ml"], "kairos: error: --auto chooses the predictor"),
])
def test_bad_names_exit_2_before_loading(calls, args, message):
    result = invoke("simulate", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert calls.load == []


@pytest.mark.parametrize("args", [["--procs", "0"], ["--limit", "-1"], ["--procs", "x"]])
def test_bad_numbers_are_usage_errors(calls, args):
    result = invoke("simulate", *args)
    assert result.exit_code == 2
    assert calls.load == []


def test_swf_error_is_one_line_and_exit_2(monkeypatch):
    from kairos.sim.swf import SwfError

    def load(trace, *, procs, limit):
        raise SwfError(f"{trace}, line 3, field 4 (run time): 'x' is not a number.")

    monkeypatch.setattr(sim_workload, "default_workload", load)
    result = invoke("simulate", "bad.swf")
    assert result.exit_code == 2
    assert result.stderr == "kairos: error: bad.swf, line 3, field 4 (run time): " \
                            "'x' is not a number.\n"
    assert result.stdout == ""


def test_os_error_exits_1(monkeypatch):
    def load(trace, *, procs, limit):
        raise PermissionError(f"[Errno 13] Permission denied: '{trace}'")

    monkeypatch.setattr(sim_workload, "default_workload", load)
    result = invoke("simulate", "locked.swf")
    assert result.exit_code == 1
    assert result.stderr.startswith("kairos: error: [Errno 13] Permission denied")


def test_swf_warning_is_shown_as_one_line(calls, monkeypatch):
    from kairos.sim.swf import SwfWarning

    def load(trace, *, procs, limit):
        warnings.warn("t.swf: submit time goes backwards 2 time(s)", SwfWarning)
        return fake_workload()

    monkeypatch.setattr(sim_workload, "default_workload", load)
    result = invoke("simulate", "t.swf")
    assert result.exit_code == 0, result.output
    assert "kairos: warning: t.swf: submit time goes backwards 2 time(s)\n" in result.stderr


# --- simulate: output ------------------------------------------------------------------


def test_plain_summary_when_piped(calls):
    result = invoke("simulate")
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if line)
    # jobs run back to back: starts 0, 100, 150 -> waits 0, 90, 130
    # -> bsld 1, (90 + 50) / 50 = 2.8, (130 + 5) / 10 = 13.5
    assert lines["jobs"] == "3"
    assert lines["avg_wait"] == "73.3"
    assert lines["avg_bsld"] == f"{(1 + 2.8 + 13.5) / 3:.3f}"


def test_json_is_one_object(calls):
    result = invoke("simulate", "--json", "--per-user")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["policy"] == "easy" and doc["order"] == "submit"
    assert doc["jobs"] == 3 and doc["skipped"] == 1
    assert doc["avg_wait"] == pytest.approx(220 / 3)
    assert [u["user"] for u in doc["per_user"]] == ["7", "9"]


def test_compare_table(calls):
    result = invoke("simulate", "--compare", "fcfs, easy,conservative,easy")
    assert result.exit_code == 0, result.output
    assert calls.replay == [("fcfs", "submit"), ("easy", "submit"),
                            ("conservative", "submit")]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["trace", "policy", "order"]
    assert [line.split()[1] for line in lines[1:]] == ["fcfs", "easy", "conservative"]


def test_compare_json(calls):
    result = invoke("simulate", "--compare", "fcfs,easy", "--order", "sjf", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["trace"] == "fake" and doc["procs"] == 8 and doc["order"] == "sjf"
    assert [r["policy"] for r in doc["results"]] == ["fcfs", "easy"]


def test_auto_is_a_configuration_of_its_own_in_compare(calls):
    result = invoke("simulate", "--compare", "easy,auto,easy+ml+guarded", "--predictor", "last2")
    assert result.exit_code == 0, result.output
    assert "auto: started with ml+limit+guarded; 0 tunings, 0 switches" in result.stderr
    assert [c.label for c in calls.configs] == ["easy+last2", "auto", "easy+ml+guarded"]
    assert [c.auto for c in calls.configs] == [False, True, False]


@pytest.mark.slow
def test_auto_replays_a_synthetic_workload_and_reports_its_tunings():
    """The real self-tuner end to end: a Lublin workload long enough for a tuning."""
    result = invoke("simulate", "--auto", "--limit", "4000", "--json", env={"KAIROS_TRACES": ""})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["policy"] == "easy+auto" and doc["predictor"] == "auto"
    assert doc["jobs"] == 4000 and doc["unfinished"] == 0
    assert doc["tuning"], "no tuning in 4,000 jobs"
    labels = {t["config"] for t in doc["tuning"][0]["trials"]}
    assert {"ml+limit+guarded", "user+limit+queue"} <= labels
    assert f"{len(doc['tuning'])} tunings" in result.stderr


def test_out_writes_records_with_simulated_wait(calls, tmp_path):
    out = tmp_path / "schedule.swf"
    result = invoke("simulate", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "; MaxProcs: 8"
    assert lines[1].startswith("; Note: simulated by Kairos with policy easy")
    assert lines[2:] == [
        "1 0 0 100 4 -1 -1 4 200 -1 1 7 3 -1 -1 -1 -1 -1",
        "2 10 90 50 8 -1 -1 8 200 -1 1 7 3 -1 -1 -1 -1 -1",
        "3 20 130 5 2 -1 -1 2 200 -1 1 9 3 -1 -1 -1 -1 -1",
    ]


def test_out_builds_records_for_generated_workloads(calls, tmp_path):
    calls.workload = fake_workload(records=False)
    out = tmp_path / "schedule.swf.gz"
    result = invoke("simulate", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = gzip.open(out, "rt").read().splitlines()
    assert lines[0] == "; MaxProcs: 8"
    jobs = [line.split() for line in lines if not line.startswith(";")]
    assert jobs[1] == ["2", "10", "90", "50", "8", "-1", "-1", "8", "200", "-1", "1", "7",
                       "-1", "-1", "-1", "-1", "-1", "-1"]


def test_compare_out_writes_one_file_per_policy(calls, tmp_path):
    result = invoke("simulate", "--compare", "fcfs,easy", "--out",
                    str(tmp_path / "run.swf"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.easy.swf", "run.fcfs.swf"]


def test_plot(calls, tmp_path):
    plot = tmp_path / "compare.png"
    result = invoke("simulate", "--compare", "fcfs,easy", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote the plot to {plot}" in result.stderr


# --- traces ----------------------------------------------------------------------------


@pytest.fixture
def fetched(monkeypatch):
    """Patch ``kairos.sim.archive.fetch``; record its calls."""
    from kairos.sim import archive

    calls = []

    def fetch(name, dest_dir, **options):
        calls.append((name, Path(dest_dir), options))
        return Path(dest_dir) / archive.lookup(name).file

    monkeypatch.setattr(archive, "fetch", fetch)
    return calls


def test_fetch_defaults_to_kairos_traces(fetched, tmp_path):
    result = invoke("traces", "fetch", "KTH-SP2-1996-2.1-cln",
                    env={"KAIROS_TRACES": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert fetched == [("kth-sp2", tmp_path, {"force": False})]
    assert result.stdout == f"{tmp_path / 'KTH-SP2-1996-2.1-cln.swf.gz'}\n"


def test_fetch_options(fetched, tmp_path):
    result = invoke("traces", "fetch", "sdsc-sp2", "--dest", str(tmp_path), "--force",
                    "--base-url", "http://mirror.invalid/swf/",
                    env={"KAIROS_TRACES": ""})
    assert result.exit_code == 0, result.output
    assert fetched == [("sdsc-sp2", tmp_path,
                        {"force": True, "base_url": "http://mirror.invalid/swf/"})]


def test_fetch_without_kairos_traces_goes_to_traces(fetched):
    result = invoke("traces", "fetch", "kth-sp2", env={"KAIROS_TRACES": ""})
    assert result.exit_code == 0, result.output
    assert fetched[0][1] == Path("traces")


def test_fetch_says_when_the_file_is_already_there(fetched, tmp_path):
    (tmp_path / "KTH-SP2-1996-2.1-cln.swf.gz").write_bytes(b"")
    result = invoke("traces", "fetch", "kth-sp2", "--dest", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "is already there (--force downloads it again)" in result.stderr


def test_fetch_unknown_name_lists_the_known_ones(fetched):
    result = invoke("traces", "fetch", "no-such-machine")
    assert result.exit_code == 2
    assert result.stderr.startswith("kairos: error: unknown trace 'no-such-machine'")
    assert "kth-sp2" in result.stderr
    assert fetched == []


def test_fetch_failure_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as s:  # a port nothing listens on: the download fails at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    result = invoke("traces", "fetch", "kth-sp2", "--dest", str(tmp_path), "--base-url", url)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"kairos: error: downloading {url}")
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_fetch_from_a_local_mirror(tmp_path):
    """The real download path, against an HTTP server on this machine."""
    import functools
    import http.server
    import threading

    mirror = tmp_path / "mirror"
    (mirror / "l_kth_sp2").mkdir(parents=True)
    (mirror / "l_kth_sp2" / "KTH-SP2-1996-2.1-cln.swf.gz").write_bytes(
        gzip.compress(TINY_SWF.encode()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=mirror)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        result = invoke("traces", "fetch", "kth-sp2", "--dest", str(tmp_path / "traces"),
                        "--base-url", url)
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    path = tmp_path / "traces" / "KTH-SP2-1996-2.1-cln.swf.gz"
    assert result.stdout == f"{path}\n"
    assert gzip.decompress(path.read_bytes()).decode() == TINY_SWF


def test_traces_list_plain(tmp_path):
    (tmp_path / "KTH-SP2-1996-2.1-cln.swf.gz").write_bytes(b"")
    (tmp_path / "mine.swf").write_text("")
    result = invoke("traces", "list", env={"KAIROS_TRACES": str(tmp_path)})
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["name", "file", "procs", "jobs", "path"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["kth-sp2"] == ["kth-sp2", "KTH-SP2-1996-2.1-cln.swf.gz", "100", "28476",
                                  str(tmp_path / "KTH-SP2-1996-2.1-cln.swf.gz")]
    assert by_name["sdsc-sp2"][-1] == "-"
    assert rows[-1] == ["-", "mine.swf", "-", "-", str(tmp_path / "mine.swf")]


# --- end to end: the installed console script ------------------------------------------

def console_script() -> Path:
    script = Path(sys.executable).parent / "kairos"
    if not script.exists():
        pytest.skip("the kairos console script is not installed (pip install -e .)")
    return script


needs_replay = pytest.mark.skipif(
    importlib.util.find_spec("kairos.sim.workload") is None
    or importlib.util.find_spec("kairos.sim.replay") is None,
    reason="kairos.sim.replay (and kairos.sim.workload) not there yet")


def run_kairos(*args, cwd):
    env = {**os.environ, "KAIROS_TRACES": ""}
    return subprocess.run([str(console_script()), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_console_script_version(tmp_path):
    proc = run_kairos("--version", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout == f"kairos {__version__}\n"


def test_console_script_error_has_no_traceback(tmp_path):
    proc = run_kairos("simulate", "--policy", "nope", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("kairos: error: unknown policy 'nope'")
    assert "Traceback" not in proc.stderr


@needs_replay
def test_console_script_simulates_a_trace(tmp_path):
    (tmp_path / "tiny.swf").write_text(TINY_SWF)
    proc = run_kairos("simulate", "tiny.swf", "--json", "--out", "schedule.swf",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["trace"] == "tiny"
    assert doc["procs"] == 4
    assert doc["jobs"] == 3 and doc["skipped"] == 1
    assert doc["avg_wait"] == pytest.approx(170 / 3)
    assert doc["max_wait"] == pytest.approx(90)
    assert doc["avg_bsld"] == pytest.approx((1 + 2.8 + 9) / 3)
    assert doc["makespan"] == pytest.approx(150)
    assert doc["utilization"] == pytest.approx((400 + 100 + 10) / (4 * 150))
    rows = [line.split() for line in (tmp_path / "schedule.swf").read_text().splitlines()
            if not line.startswith(";")]
    assert rows == [  # the records as read, field 3 = simulated wait
        "1 0 0 100 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1".split(),
        "2 10 90 50 2 -1 -1 2 60 -1 1 2 1 -1 -1 -1 -1 -1".split(),
        "3 20 80 10 1 -1 -1 1 10 -1 1 2 1 -1 -1 -1 -1 -1".split(),
    ]


@needs_replay
def test_console_script_warns_about_unsorted_submit_times(tmp_path):
    lines = TINY_SWF.splitlines()
    (tmp_path / "unsorted.swf").write_text("\n".join([lines[0], lines[3], lines[2],
                                                      lines[4]]) + "\n")
    proc = run_kairos("simulate", "unsorted.swf", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "kairos: warning: " in proc.stderr and "backwards" in proc.stderr
    assert json.loads(proc.stdout)["jobs"] == 3  # jobs 2, 1, 3: sorted, all kept


@needs_replay
def test_synthetic_default_workload_for_real(tmp_path):
    out = tmp_path / "lublin.swf"
    result = invoke("simulate", "--limit", "300", "--json", "--out", str(out),
                    env={"KAIROS_TRACES": ""})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["jobs"] == 300 and doc["procs"] == 256
    assert "synthetic" in result.stderr
    # the written schedule is a trace in its own right: replaying it gives the same run
    again = invoke("simulate", str(out), "--json")
    assert again.exit_code == 0, again.output
    redo = json.loads(again.stdout)
    assert redo["procs"] == 256 and redo["jobs"] == 300
    for key in ("avg_bsld", "avg_wait", "max_wait", "utilization"):
        assert redo[key] == pytest.approx(doc[key]), key


@needs_replay
def test_console_script_compare_table(tmp_path):
    (tmp_path / "tiny.swf").write_text(TINY_SWF)
    proc = run_kairos("simulate", "tiny.swf", "--compare", "fcfs,easy,conservative",
                      "--plot", "compare.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[1] for line in lines[1:]] == ["fcfs", "easy", "conservative"]
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"


@needs_replay
def test_console_script_reports_a_bad_trace(tmp_path):
    (tmp_path / "bad.swf").write_text("1 0 -1 x 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1\n")
    proc = run_kairos("simulate", "bad.swf", "--procs", "4", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("kairos: error: ")
    assert "line 1" in proc.stderr and "field 4" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_compare_builds_configurations_from_names(calls):
    result = invoke("simulate", "--compare", "easy,easy+ml+shortest,conservative+tsafrir",
                    "--predictor", "last2")
    assert result.exit_code == 0, result.output
    assert [(c.policy, c.predictor, c.correction, c.backfill_order) for c in calls.configs] == [
        ("easy", "last2", "limit", "queue"),
        ("easy", "ml", "limit", "shortest"),
        ("conservative", "last2", "tsafrir", "queue"),
    ]


def test_predict_evaluate_replays_once_per_predictor(calls):
    result = invoke("predict", "evaluate", "--predictors", "user,last2,user", "--order", "sjf",
                    "--json")
    assert result.exit_code == 0, result.output
    assert [(c.policy, c.predictor) for c in calls.configs] == [("easy", "user"), ("easy", "last2")]
    assert calls.replay == [("easy", "sjf"), ("easy+last2", "sjf")]
    doc = json.loads(result.stdout)
    assert doc["trace"] == "fake" and doc["order"] == "sjf" and len(doc["results"]) == 2
    assert "kairos: workload fake" in result.stderr


def test_predict_evaluate_refuses_unknown_predictors_before_loading(calls):
    result = invoke("predict", "evaluate", "--predictors", "user,psychic")
    assert result.exit_code == 2
    assert result.stderr.startswith("kairos: error: unknown predictor 'psychic'; choose from: user")
    assert calls.load == []
