"""The Kairos side of the benchmark: a private controller in a temporary home
(:class:`kairos.testing.home.KairosHome`) with Kairos's default scheduling settings,
plus what only the benchmark does with it: submitting through the Python API from
several threads or in batches, and reading job counts to see a drain finish."""

from __future__ import annotations

import shutil
import subprocess
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kairos.cli.client import Client
from kairos.testing.home import KairosHome, write_config

from .measure import progress_bar, run_parallel

#: Kairos's defaults, written out: passes are also run at once on every submission and
#: every job exit, so the interval does not pace a drain.
SETTINGS = {"scheduler_interval": 1.0, "kill_wait": 2}


class BenchController(KairosHome):
    """A controller in ``root/home``, commands run from ``root/work``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root / "home", root / "work", command_timeout=120)
        self.root = root
        self._control: Client | None = None  #: the benchmark's own connection

    @classmethod
    def in_directory(cls, root: Path) -> BenchController:
        """Write the home's config.toml under ``root``; the controller's driver."""
        write_config(root / "home", SETTINGS)
        (root / "work").mkdir()
        return cls(root)

    def client(self, timeout: float = 300.0) -> Client:
        return super().client(timeout)

    def down(self) -> None:
        self._control = None
        super().down()

    def spec(self, *options: str, name: str) -> dict:
        """The wire form of ``sbatch <options> -J name --wrap true``, built once."""
        from kairos.slurm.sbatch import parse_submission

        argv = [*options, f"--job-name={name}", "--wrap", "true"]
        return parse_submission(argv, cwd=str(self.workdir), env=self.env, now=time.time(),
                                submit_host=socket.gethostname()).to_json()

    def submit_api(self, spec: dict, count: int, clients: int, label: str) -> tuple[list[int], float]:
        """Submit ``spec`` ``count`` times from ``clients`` threads (one connection each);
        the job ids and the seconds it took."""
        local = threading.local()

        def submit_one(_: int) -> int:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = self.client()
            return client.submit(spec)["job_id"]

        began = time.perf_counter()
        ids = run_parallel(count, clients, submit_one, label)
        return ids, time.perf_counter() - began

    def submit_batches(self, spec: dict, count: int, size: int, label: str) -> tuple[list[int], float]:
        """Submit ``spec`` ``count`` times, ``size`` per request, from one client."""
        client = self.client()
        ids: list[int] = []
        began = time.perf_counter()
        with progress_bar() as bar:
            task = bar.add_task(label, total=count)
            while len(ids) < count:
                results = client.submit_many([spec] * min(size, count - len(ids)))
                ids.extend(r["job_id"] for r in results)
                bar.update(task, completed=len(ids))
        return ids, time.perf_counter() - began

    def control(self) -> Client:
        if self._control is None:
            self._control = self.client()
        return self._control

    def cancel(self, ids: list[int]) -> None:
        if ids:
            self.control().cancel(ids=[str(i) for i in ids])

    def counts(self) -> dict[str, int]:
        """Jobs per state (the controller holds only this run's jobs)."""
        return self.control().status()["jobs"]


@contextmanager
def benchmark_controller(keep: bool) -> Iterator[BenchController]:
    """A started controller in a fresh temporary directory; stopped at the end (jobs it
    left behind killed) and its directory removed unless ``keep``."""
    root = Path(tempfile.mkdtemp(prefix="kairos-bench-"))
    controller = BenchController.in_directory(root)
    # the commands' server of this run (kairos.cli.forkserver), stopped at the end
    controller.env["KAIROS_FORKSERVER_DIR"] = str(root / "commands")
    try:
        controller.up()
        yield controller
    finally:
        controller.stop()
        subprocess.run(["pkill", "-f", f"kairos.cli.forkserver {root / 'commands'}"],
                       check=False)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
