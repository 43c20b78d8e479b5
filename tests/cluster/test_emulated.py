"""A controller driving one ``kairos node --emulate 50`` process: the nodes register in
bundles, jobs submitted with the real commands "run" for their emulated time without
processes and end COMPLETED (or TIMEOUT at their limit) in sacct, scancel ends them,
and when the emulator is killed its nodes go DOWN and a running job is requeued."""

from __future__ import annotations

import time

import pytest

from kairos.testing.emulated import running_emulated_cluster

NODES = 50


@pytest.fixture(scope="module")
def emulated():
    with running_emulated_cluster(NODES, cpus=4, mem_mib=8192, gpus="a100:2",
                                  cluster={"node_timeout": 4, "heartbeat_interval": 1}) as made:
        yield made


def _sacct(cluster, *ids: int) -> dict[str, list[str]]:
    out = cluster.run("sacct", "-X", "-P", "-n", "-o", "JobID,State,ExitCode,Elapsed,NodeList",
                      "-j", ",".join(map(str, ids))).stdout
    return {line.split("|")[0]: line.split("|")[1:] for line in out.splitlines()}


def test_every_node_registers_labelled_emulated(emulated):
    out = emulated.run("sinfo", "-h", "-o", "%D|%t|%c|%f|%G").stdout.split()
    assert out == [f"{NODES}|idle|4|emulated|gpu:a100:2"]


def test_jobs_run_for_their_emulated_time_and_end_completed(emulated):
    began = time.time()
    slept = emulated.submit("-n", "4", "--wrap", "sleep 3")
    timed = emulated.submit("--export=ALL,KAIROS_EMULATE_RUNTIME=1", "--array=0-19",
                            "--wrap", "some real work that never runs")
    gpu = emulated.submit("--gres=gpu:a100:2", "--wrap", "sleep 1")
    limited = emulated.submit("-t", "0:02", "--wrap", "sleep 100")  # 2 s limit
    first = emulated.wait_state(slept, {"RUNNING"})
    assert first["node_list"].startswith("emu") and first["cpu_ids"] == [0, 1, 2, 3]
    for job in (slept, timed, gpu, limited):
        emulated.wait(job, timeout=30)
    rows = _sacct(emulated, slept, timed, gpu, limited)
    assert rows[str(slept)][:2] == ["COMPLETED", "0:0"]
    assert rows[str(slept)][2] in ("00:00:03", "00:00:04")
    assert [rows[f"{timed}_{i}"][:2] for i in range(20)] == [["COMPLETED", "0:0"]] * 20
    assert rows[str(gpu)][:2] == ["COMPLETED", "0:0"]
    assert rows[str(limited)][0] == "TIMEOUT" and rows[str(limited)][2] in ("00:00:02", "00:00:03")
    assert time.time() - began < 25


def test_scancel_ends_an_emulated_job_cancelled(emulated):
    job = emulated.submit("--wrap", "sleep 1000")
    emulated.wait_state(job, {"RUNNING"})
    emulated.run("scancel", str(job))
    emulated.wait(job, timeout=15)
    assert _sacct(emulated, job)[str(job)][0] == "CANCELLED"


def test_steps_are_refused_on_emulated_nodes(emulated):
    # Nothing runs there: a step fails to launch instead of hanging.
    result = emulated.run("srun", "-n", "1", "hostname", check=False, timeout=30)
    assert result.returncode != 0


def test_each_part_of_a_bundle_is_checked_as_its_own_request(emulated):
    import secrets

    import httpx

    from kairos.trust import KeySigner, derive_node_key, read_key
    from kairos.trust.bundle import sign_part

    key = read_key(emulated.home / "cluster.key")
    good = KeySigner("emu02", derive_node_key(key, "emu02"))
    forged = KeySigner("emu03", derive_node_key(secrets.token_bytes(32), "emu03"))
    parts = [sign_part(good, "/api/v1/cluster/heartbeat", b'{"running": []}'),
             sign_part(forged, "/api/v1/cluster/heartbeat", b'{"running": []}'),
             sign_part(good, "/api/v1/jobs", b"{}")]
    reply = httpx.post(f"http://127.0.0.1:{emulated.controller_port}/api/v1/cluster/bundle",
                       json={"parts": parts}, timeout=30)
    assert reply.status_code == 200
    answers = reply.json()["answers"]
    assert [a["status"] for a in answers] == [200, 403, 404]
    assert "bad signature" in answers[1]["body"]["detail"]
    # Replayed, the good part is refused: each signed request is taken once.
    again = httpx.post(f"http://127.0.0.1:{emulated.controller_port}/api/v1/cluster/bundle",
                       json={"parts": parts[:1]}, timeout=30).json()["answers"]
    assert again[0]["status"] == 403 and "replayed" in again[0]["body"]["detail"]


def test_a_killed_emulator_takes_its_nodes_down_and_its_jobs_are_requeued(emulated):
    # Last in this module: the nodes do not come back.
    job = emulated.submit("--wrap", "sleep 1000")
    emulated.wait_state(job, {"RUNNING"})
    emulated.kill_emulator()
    deadline = time.monotonic() + 20
    while True:
        states = {n["state"] for n in emulated.client().nodes()}
        if states == {"down"} or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert states == {"down"}
    again = emulated.wait_state(job, {"PENDING"}, timeout=10)
    assert again["restarts"] == 1
