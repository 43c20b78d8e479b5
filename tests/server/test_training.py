"""A live controller's refits: trained on a worker thread while the loop goes on, the
same models as trained in place, installed in order, and a failed refit loses nothing."""

from __future__ import annotations

import asyncio
import logging
import threading

import numpy as np
import pytest

from kairos.predict import make_predictor
from kairos.predict.fitting import fit_now, learners
from kairos.predict.model_io import walk_trace
from kairos.predict.panel import PredictorPanel
from kairos.server.training import BackgroundFits
from kairos.sim.workload import lublin

QUICK = {
    "ml": {"first": 50, "period": 150, "trees": 15, "window": 2000},
    "rf": {"n_estimators": 10, "every_jobs": 100, "every_seconds": 0.0},
}


@pytest.fixture(scope="module")
def workload():
    return lublin(900, 64, seed=5, users=12)


def _answers(predictor, workload) -> list[float]:
    """What ``predictor`` says now of the workload's first jobs (nothing is recorded)."""
    if predictor.name == "rf":
        return [predictor.flat.predict_one(predictor.row(job)) for job in workload.jobs[:50]]
    return [predictor.predict_row(predictor.tracker.peek(job, job.submit), job.time_limit)
            for job in workload.jobs[:50]]


async def _settled(fits: BackgroundFits) -> None:
    while fits.in_flight:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("name", ["ml", "rf"])
def test_the_models_trained_on_the_worker_are_those_trained_in_place(name, workload):
    in_place = make_predictor(name, **QUICK[name])
    walk_trace(workload, in_place)

    background = make_predictor(name, **QUICK[name])
    threads = set()
    train = background.train

    def train_and_note(rows):
        threads.add(threading.current_thread().name)
        return train(rows)

    background.train = train_and_note

    async def walk():
        fits = BackgroundFits(background, asyncio.get_running_loop())
        assert background.fitter is fits
        walk_trace(workload, background)
        assert fits.in_flight == in_place.fits  # all handed over, none installed yet
        await _settled(fits)
        fits.close()
        assert background.fitter is fit_now

    asyncio.run(walk())
    assert threads and all(t.startswith("kairos-fit") for t in threads)
    assert background.fits == in_place.fits >= 3
    assert background.trained_on == in_place.trained_on
    assert _answers(background, workload) == _answers(in_place, workload)


def test_the_loop_goes_on_while_a_forest_is_trained(workload):
    predictor = make_predictor("rf", n_estimators=60, max_depth=12, every_jobs=10**9)
    walk_trace(workload, predictor)
    X, y = predictor.training_set()
    rows = np.tile(X, (8, 1)), np.tile(y, 8)  # a few thousand rows: a training of a while
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def run(fitter_of):
        nonlocal ticks
        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.02)
        fits = fitter_of()
        ticks = 0
        predictor.fitter(predictor, rows)
        seen = ticks  # the loop had no turn yet
        if fits is not None:
            await _settled(fits)
            fits.close()
        ticker.cancel()
        return seen, ticks

    in_place = asyncio.run(run(lambda: None))
    assert in_place == (0, 0)  # a refit in place holds the loop for all its length
    assert predictor.fits == 1
    seen, ticks_during = asyncio.run(run(
        lambda: BackgroundFits(predictor, asyncio.get_running_loop())))
    assert seen == 0 and ticks_during >= 2
    assert predictor.fits == 2


def test_a_failed_refit_keeps_the_previous_model(workload, caplog):
    predictor = make_predictor("ml", **QUICK["ml"])
    walk_trace(workload, predictor)
    before = _answers(predictor, workload)
    fits_before = predictor.fits

    def broken(rows):
        raise MemoryError("no room for the trees")

    predictor.train = broken

    async def refit():
        fits = BackgroundFits(predictor, asyncio.get_running_loop())
        predictor.fitter(predictor, predictor.training_set())
        await _settled(fits)
        fits.close()

    with caplog.at_level(logging.ERROR, logger="kairos.controller"):
        asyncio.run(refit())
    assert "refitting the ml predictor failed" in caplog.text
    assert predictor.fits == fits_before and _answers(predictor, workload) == before


def test_every_member_of_a_panel_refits_on_the_worker():
    panel = PredictorPanel({"last2": make_predictor("last2"), "ml": make_predictor("ml"),
                            "rf": make_predictor("rf")}, "last2")
    assert [p.name for p in learners(panel)] == ["ml", "rf"]
    assert [p.name for p in learners(make_predictor("last2"))] == []

    async def attach():
        fits = BackgroundFits(panel, asyncio.get_running_loop())
        assert all(m.fitter is fits for m in learners(panel))
        fits.close()

    asyncio.run(attach())
    assert all(m.fitter is fit_now for m in learners(panel))


def test_a_copy_of_the_window_is_trained_on():
    predictor = make_predictor("ml", window=4)
    for i in range(3):
        predictor.window.append(np.full(predictor.window.ncol, float(i)), float(i))
    X, y = predictor.training_set()
    predictor.window.append(np.full(predictor.window.ncol, 9.0), 9.0)
    predictor.window.append(np.full(predictor.window.ncol, 8.0), 8.0)  # wraps the ring
    assert list(y) == [0.0, 1.0, 2.0] and X[:, 0].tolist() == [0.0, 1.0, 2.0]
