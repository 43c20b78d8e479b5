"""A real controller per test: a daemon in a temporary ``KAIROS_HOME``, driven through
the real ``kairos`` executable and the real Unix-socket API
(:class:`kairos.testing.home.KairosHome`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kairos.testing.home import KairosHome


@pytest.fixture
def make_live(tmp_path):
    """``make_live(config="", home=None)``: a controller home with ``config`` added to
    ``config.toml`` (started by the first command that needs it); all stopped at the
    end, with any job still running killed."""
    made: list[KairosHome] = []

    def make(config: str = "", home: Path | None = None) -> KairosHome:
        home = home or tmp_path / f"home{len(made)}"
        live = KairosHome.create(home, tmp_path / f"work{len(made)}", extra_config=config)
        made.append(live)
        return live

    yield make
    for live in made:
        live.stop()


@pytest.fixture
def live(make_live):
    """A fresh controller with the test defaults (short kill wait, frequent passes)."""
    return make_live()
