"""Metrics of hand-built replay results, checked against numbers worked out by hand."""

import json
from types import SimpleNamespace

import pytest

from kairos.sim.metrics import bounded_slowdown, jain_index, summarize


def job(id, user, submit, start, end, cpus, estimate=None):
    if estimate is None:
        estimate = (end - start) if start is not None and end is not None else 0
    return SimpleNamespace(id=id, user=user, submit=submit, start=start, end=end,
                           request=SimpleNamespace(cpus=cpus), estimate=estimate)


def result(jobs, *, procs=4, skipped=None, wall=2.0, policy="easy", order="submit", forecasts=None):
    workload = SimpleNamespace(name="tiny", procs=procs, jobs=jobs,
                               skipped=skipped or {}, records=None)
    return SimpleNamespace(workload=workload, policy=policy, order=order, jobs=jobs,
                           wall_seconds=wall, predictor="user", correction="limit",
                           forecasts=forecasts or {})


# Four jobs on 4 processors.
#   id user submit start end cpus | wait runtime bsld
#   1  "1"     0     0   100   2  |   0   100    max(100/100, 1)      = 1
#   2  "1"     0   100   105   4  | 100     5    (100 + 5) / 10       = 10.5
#   3  "2"    10    30   130   1  |  20   100    (20 + 100) / 100     = 1.2
#   4  "10"   50   105   205   2  |  55   100    (55 + 100) / 100     = 1.55
JOBS = [
    job(1, "1", 0, 0, 100, 2),
    job(2, "1", 0, 100, 105, 4),
    job(3, "2", 10, 30, 130, 1),
    job(4, "10", 50, 105, 205, 2),
]


@pytest.fixture
def summary():
    return summarize(result(JOBS, skipped={"too_wide": 2, "bad_runtime": 1}),
                     per_user=True)


def test_run_description(summary):
    assert summary["trace"] == "tiny"
    assert summary["policy"] == "easy"
    assert summary["order"] == "submit"
    assert summary["procs"] == 4
    assert summary["jobs"] == 4
    assert summary["unfinished"] == 0
    assert summary["skipped"] == 3
    assert summary["skipped_by_reason"] == {"too_wide": 2, "bad_runtime": 1}


def test_bounded_slowdown(summary):
    # (1 + 10.5 + 1.2 + 1.55) / 4 = 14.25 / 4
    assert summary["avg_bsld"] == pytest.approx(3.5625)
    assert summary["max_bsld"] == pytest.approx(10.5)


def test_waits(summary):
    # waits 0, 100, 20, 55 -> sorted 0, 20, 55, 100; linear interpolation between ranks
    assert summary["avg_wait"] == pytest.approx(43.75)
    assert summary["p50_wait"] == pytest.approx(37.5)  # (20 + 55) / 2
    assert summary["p90_wait"] == pytest.approx(86.5)  # rank 2.7: 55 + 0.7 * 45
    assert summary["p99_wait"] == pytest.approx(98.65)  # rank 2.97: 55 + 0.97 * 45
    assert summary["max_wait"] == pytest.approx(100.0)


def test_utilization_and_makespan(summary):
    # makespan: last end 205 - first submit 0
    assert summary["makespan"] == pytest.approx(205.0)
    # busy: 2*100 + 4*5 + 1*100 + 2*100 = 520 processor-seconds over 4 * 205
    assert summary["utilization"] == pytest.approx(520 / 820)


def test_fairness(summary):
    # per-user average bsld: "1" -> (1 + 10.5) / 2 = 5.75, "2" -> 1.2, "10" -> 1.55
    assert summary["users"] == 3
    assert summary["worst_user_avg_bsld"] == pytest.approx(5.75)
    # Jain: (5.75 + 1.2 + 1.55)^2 / (3 * (5.75^2 + 1.2^2 + 1.55^2)) = 72.25 / 110.715
    assert summary["fairness_jain"] == pytest.approx(72.25 / 110.715)


def test_per_user_rows_in_numeric_user_order(summary):
    rows = summary["per_user"]
    assert [r["user"] for r in rows] == ["1", "2", "10"]
    assert rows[0] == {"user": "1", "jobs": 2, "avg_wait": pytest.approx(50.0),
                       "avg_bsld": pytest.approx(5.75)}
    assert rows[1]["avg_wait"] == pytest.approx(20.0)
    assert rows[2]["avg_bsld"] == pytest.approx(1.55)


def test_per_user_only_on_request():
    assert "per_user" not in summarize(result(JOBS))


def test_throughput(summary):
    assert summary["replay_seconds"] == pytest.approx(2.0)
    assert summary["jobs_per_second"] == pytest.approx(2.0)


def test_json_ready(summary):
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text)["avg_bsld"] == pytest.approx(3.5625)
    for key, value in summary.items():
        assert value is None or type(value) in (int, float, str, dict, list), key


def test_empty_result_is_all_undefined():
    s = summarize(result([], wall=0.0))
    assert s["jobs"] == 0
    assert s["users"] == 0
    for key in ("avg_bsld", "max_wait", "utilization", "makespan", "fairness_jain",
                "worst_user_avg_bsld", "jobs_per_second"):
        assert s[key] is None, key
    json.dumps(s, allow_nan=False)


def test_unfinished_jobs_are_counted_not_measured():
    pending = job(5, "3", 0, None, None, 1)
    s = summarize(result(JOBS + [pending]))
    assert s["jobs"] == 5
    assert s["unfinished"] == 1
    assert s["avg_bsld"] == pytest.approx(3.5625)


def test_bounded_slowdown_bounds():
    # a 1 s job that waited 4 s counts as a 10 s job: (4 + 1) / 10 < 1 -> 1
    assert bounded_slowdown([4.0], [1.0])[0] == 1.0
    assert bounded_slowdown([30.0], [1.0])[0] == pytest.approx(3.1)
    assert bounded_slowdown([0.0], [0.0])[0] == 1.0


def test_jain_index():
    assert jain_index([2.0, 2.0, 2.0]) == pytest.approx(1.0)
    assert jain_index([1.0, 0.0, 0.0]) == pytest.approx(1 / 3)
    assert jain_index([]) is None


def test_estimate_accuracy():
    # runtimes 100, 50, 10 s; estimates 200 (over), 25 (under), 10 (exact):
    # MAE = (100 + 25 + 0) / 3; one of three under; mean ratio = (2 + 0.5 + 1) / 3.
    jobs = [job(1, "1", 0, 0, 100, 1, estimate=200), job(2, "1", 0, 0, 50, 1, estimate=25),
            job(3, "1", 0, 0, 10, 1, estimate=10)]
    m = summarize(result(jobs))
    assert m["pred_mae"] == pytest.approx(125 / 3)
    assert m["pred_under"] == pytest.approx(1 / 3)
    assert m["pred_ratio"] == pytest.approx(3.5 / 3)


def test_forecast_error():
    # actual starts 0, 10, 20, 30; forecasts off by 0, 5, 20 and one never (inf: ignored)
    jobs = [job(i, "1", 0, 10 * (i - 1), 10 * i, 1) for i in (1, 2, 3, 4)]
    m = summarize(result(jobs, forecasts={1: 0, 2: 15, 3: 0, 4: float("inf")}))
    assert m["forecasts"] == 3
    assert m["forecast_p50_error"] == 5
    assert m["forecast_p90_error"] == pytest.approx(5 + 0.8 * 15)


def test_forecast_within_ten_percent_of_the_wait_or_a_minute():
    # submits 0; starts 0, 1000, 5000: waits 0, 1000, 5000
    jobs = [job(1, "1", 0, 0, 10, 1), job(2, "1", 0, 1000, 1010, 1), job(3, "1", 0, 5000, 5010, 1)]
    # off by 60 s (the minute), 101 s (over 10% of 1000), 500 s (10% of 5000)
    m = summarize(result(jobs, forecasts={1: 60, 2: 899, 3: 4500}))
    assert m["forecast_within"] == pytest.approx(2 / 3)
    assert summarize(result(jobs))["forecast_within"] is None
