"""``kairos tune``'s text: the configuration, every candidate's numbers, the gain with
its interval, what was applied and when, the earlier decisions, and auto off."""

from __future__ import annotations

from kairos.cli.tune import render
from kairos.slurm.timespec import format_timestamp

NOW = 1_700_000_000.0
DAY = 86400.0


def decision(**fields) -> dict:
    base = {"time": NOW - DAY, "jobs": 812, "current": "ml+limit+guarded",
            "chosen": "last2+limit+guarded", "applied": True,
            "reason": "a candidate won by the margin", "gain": 0.412, "gain_low": 0.118,
            "gain_high": 0.703, "wait_limit": 9000.0,
            "trials": [{"config": "ml+limit+guarded", "avg_bsld": 3.214, "max_wait": 7200.0},
                       {"config": "last2+limit+guarded", "avg_bsld": 2.802, "max_wait": 6600.0},
                       {"config": "ml+limit+guarded@S5", "avg_bsld": 2.5, "max_wait": 12000.0},
                       {"config": "user+limit+queue", "avg_bsld": 4.9, "max_wait": 7000.0}]}
    return {**base, **fields}


def info(**fields) -> dict:
    base = {"auto": True, "every": 21 * DAY, "window": 7 * DAY, "min_jobs": 200,
            "next": NOW + 20 * DAY, "running": False,
            "current": {"policy": "easy", "predictor": "last2", "correction": "limit",
                        "backfill_order": "guarded", "label": "last2+limit+guarded"},
            "candidates": ["ml+limit+guarded", "last2+limit+guarded", "user+limit+queue"],
            "decisions": [decision()]}
    return {**base, **fields}


def test_the_last_decision_shows_every_candidate_and_what_was_applied_when():
    text = render(info(), clock=NOW)
    assert "configuration  last2+limit+guarded (EASY, predictor last2, correction limit, " \
           "backfill order guarded)" in text
    assert "self-tuning    on: every 21-00:00:00, on the jobs of the last 7-00:00:00 that " \
           "finished (at least 200)" in text
    assert f"next tuning    {format_timestamp(NOW + 20 * DAY)} (in 20-00:00:00)" in text
    assert f"last tuning, {format_timestamp(NOW - DAY)}: 812 finished jobs" in text
    assert "best           last2+limit+guarded, against the current ml+limit+guarded" in text
    assert "expected gain  0.41 in average bounded slowdown (95% interval 0.12 to 0.70)" in text
    assert f"decision       applied last2+limit+guarded at {format_timestamp(NOW - DAY)}: " \
           "a candidate won by the margin" in text
    rows = [line.split() for line in text.splitlines() if line.startswith("  ")]
    row = {cells[0]: cells[1:] for cells in rows if "+" in cells[0]}
    assert row["ml+limit+guarded"] == ["3.21", "2:00:00", "current"]
    assert row["last2+limit+guarded"] == ["2.80", "1:50:00", "chosen"]
    assert row["ml+limit+guarded@S5"] == ["2.50", "3:20:00", "over", "the", "wait", "bound"]
    assert row["user+limit+queue"] == ["4.90", "1:56:40"]
    assert "earlier tunings" not in text


def test_a_kept_configuration_says_why_and_earlier_decisions_follow_newest_first():
    kept = decision(time=NOW, chosen="ml+limit+guarded", current="ml+limit+guarded",
                    applied=False, reason="the current configuration is the best within "
                                          "the wait bound")
    first = decision(time=NOW - 40 * DAY, applied=False, current="user+limit+queue",
                     chosen="user+limit+queue")
    text = render(info(decisions=[first, decision(), kept]), clock=NOW)
    assert "best           ml+limit+guarded, the current configuration" in text
    assert "best, not applied" not in text
    assert "expected gain" not in text
    assert "decision       kept ml+limit+guarded: the current configuration is the best" in text
    earlier = text[text.index("earlier tunings:"):].splitlines()[1:]
    assert earlier == [
        f"  {format_timestamp(NOW - DAY)}  812 jobs, applied last2+limit+guarded "
        f"(was ml+limit+guarded)",
        f"  {format_timestamp(NOW - 40 * DAY)}  812 jobs, kept user+limit+queue"]


def test_a_tuning_asked_now_is_shown_as_this_tuning():
    now = decision(time=NOW)
    text = render(info(decisions=[now], decision=now, next=NOW + 21 * DAY), clock=NOW)
    assert text.count(f"this tuning, {format_timestamp(NOW)}") == 1
    assert "last tuning" not in text and "earlier tunings" not in text


def test_auto_off_shows_the_configuration_and_no_tuning():
    text = render(info(auto=False, next=None, decisions=[], candidates=[],
                       current={"policy": "conservative", "predictor": "user",
                                "correction": "limit", "backfill_order": "queue",
                                "label": "user+limit+queue"}), clock=NOW)
    assert text.splitlines() == [
        "configuration  user+limit+queue (CONSERVATIVE, predictor user, correction limit, "
        "backfill order queue)",
        "self-tuning    off"]


def test_a_best_candidate_left_unapplied_is_marked_so():
    within_noise = decision(time=NOW, applied=False,
                            reason="the best candidate's gain is within the noise or the margin")
    text = render(info(decisions=[within_noise]), clock=NOW)
    row = next(line for line in text.splitlines() if line.strip().startswith("last2+limit+guarded"))
    assert row.rstrip().endswith("best, not applied")
