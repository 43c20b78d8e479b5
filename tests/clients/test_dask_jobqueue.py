"""dask-jobqueue's SLURMCluster on Kairos, unchanged: it writes an ``#SBATCH`` script
(``-J``, ``-e``/``-o`` with ``%J``, ``-n 1``, ``--cpus-per-task``, ``--mem``, ``-t``),
submits it with ``sbatch``, finds the job id in what sbatch printed, and at close ends
its workers with ``scancel``."""

from __future__ import annotations

import json

from kairos.core.jobs import JobState

SCRIPT = """\
import json
from dask_jobqueue import SLURMCluster
from distributed import Client

cluster = SLURMCluster(cores=1, processes=1, memory="400MB", walltime="00:05:00",
                       log_directory="logs",
                       scheduler_options={"host": "127.0.0.1", "dashboard_address": None})
cluster.scale(2)
client = Client(cluster)
client.wait_for_workers(2, timeout=60)
total = client.submit(sum, client.map(lambda x: x * x, range(10))).result()
workers = len(client.scheduler_info()["workers"])
job_ids = sorted(job.job_id for job in cluster.workers.values())
client.close()
cluster.close()
print(json.dumps({"total": total, "workers": workers, "job_ids": job_ids}))
"""


def test_slurm_cluster_scales_computes_and_cancels_its_jobs_at_close(dask_site):
    site = dask_site
    (site.workdir / "cluster.py").write_text(SCRIPT)
    done = site.run(site.python, "cluster.py", timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["total"] == sum(x * x for x in range(10)) and result["workers"] == 2
    assert len(result["job_ids"]) == 2
    for job_id in result["job_ids"]:
        rows = site.live.wait(job_id, timeout=30)
        assert [row["state"] for row in rows] == [JobState.CANCELLED.name]
    logs = sorted(path.name for path in (site.workdir / "logs").iterdir())
    assert logs == sorted(f"dask-worker-{job_id}.{kind}" for job_id in result["job_ids"]
                          for kind in ("err", "out"))
