"""A stand-in for the controller's step and allocation API, on a Unix socket, that runs
steps with a real ``LocalAgent``: srun, salloc and sstat are tested against it with
real step supervisors and real tasks, without a scheduler or a database.

It speaks the routes the commands use (``/jobs``, ``/jobs/{id}``, ``/jobs/{id}/steps``,
``.../signal``, ``.../cancel``, ``keepalive``, ``release``, ``environment``, ``/nodes``,
``/accounting``) with the controller's shapes, and records every request.  Knobs: a job
may stay pending for a while, the step request may be answered 409 a few times (other
steps hold the CPUs) or refused, requests may find no controller for a while (502, a
controller being restarted), and a step may have tasks on a node that never starts
them (a lost node).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from kairos.node.agent import LocalAgent, StepFinished, StepLaunch
from kairos.node.facts import detect
from kairos.slurm.hostlist import compress
from kairos.slurm.signals import signal_number


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeController:
    """The controller's step API over a real agent (see the module docstring)."""

    def __init__(self, tmp_path: Path, *, cpus: int = 8) -> None:
        self.socket_path = str(tmp_path / "ctl.sock")
        facts = detect()
        self.node = facts.name
        self.agent = LocalAgent(tmp_path / "home", facts, kill_wait=1)
        self.lock = threading.RLock()
        self.cpus = cpus
        self.jobs: dict[int, dict[str, Any]] = {}
        self.steps: dict[tuple[int, int], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.busy_answers = 0  #: step requests to answer 409 before one is taken
        #: requests to answer 502 first, as a node daemon does while no controller answers
        self.unanswered = 0
        self.refuse_steps: str | None = None  #: answer step requests 400 with this
        self.refuse_jobs: str | None = None  #: answer allocation requests 400 with this
        self.pending_for = 0.0  #: seconds a new allocation stays pending
        self.ghost_nodes: list[str] = []  #: nodes given tasks that never start them
        #: seconds after which a step's ghost nodes are declared lost (its state NODE_FAIL
        #: while the rest runs on); None: only once the rest has ended
        self.ghost_fail_after: float | None = None
        self.released: dict[int, int] = {}
        self.node_updates: list[tuple[str, dict]] = []
        self.next_job = 100
        self._stop = threading.Event()
        handler = type("Handler", (_Handler,), {"controller": self})
        self.server = _Server(self.socket_path, handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._poll_agent, daemon=True).start()

    def add_job(self, job_id: int, *, ntasks: int = 1, state: str = "RUNNING") -> dict:
        job = {"job_id": job_id, "state": state, "node_list": self.node, "ntasks": ntasks,
               "allocation": False, "name": "job", "user": _me()["user"]}
        self.jobs[job_id] = job
        return job

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for key in self.agent.running_steps():
                try:
                    self.agent.cancel_step(*key)
                except ValueError:
                    pass
        deadline = time.monotonic() + 5
        while self.agent.running_steps() and time.monotonic() < deadline:
            with self.lock:
                self._record(self.agent.poll())
            time.sleep(0.05)
        self.agent.close()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path, _ in self.requests if method in (None, m)]

    # ---- the agent's ends

    def _poll_agent(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                self._record(self.agent.poll())
                self._start_pending_jobs()
                self._lose_ghosts()

    def _record(self, ended: list) -> None:
        for event in ended:
            if not isinstance(event, StepFinished):
                continue
            step = self.steps.get((event.job_id, event.step_id))
            if step is None:
                continue
            if step["ghosts"]:
                step.update(state="NODE_FAIL", reason="NodeFail")
            else:
                step.update(state=event.state.name, reason=event.reason or "None")
            step.update(exit_code=event.exit_code, signal=event.signal, end_time=event.end,
                        cpu_time=event.cpu_time, max_rss=event.max_rss_kib)

    def _lose_ghosts(self) -> None:
        if self.ghost_fail_after is None:
            return
        now = time.time()
        for step in self.steps.values():
            if step["ghosts"] and step["state"] == "RUNNING" \
                    and now >= step["start_time"] + self.ghost_fail_after:
                step.update(state="NODE_FAIL", reason="NodeFail")

    def _start_pending_jobs(self) -> None:
        now = time.time()
        for job in self.jobs.values():
            if job["state"] == "PENDING" and now >= job["submitted"] + self.pending_for:
                job.update(state="RUNNING", node_list=self.node, start_time=now)

    # ---- the routes

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if self.unanswered > 0:
            self.unanswered -= 1
            return 502, {"detail": "the controller http://10.0.0.1:6820 does not answer: "
                                   "All connection attempts failed"}
        path = path.split("?", 1)[0].removeprefix("/api/v1")
        for pattern, handler in _ROUTES:
            match = re.fullmatch(pattern, f"{method} {path}")
            if match:
                with self.lock:
                    return handler(self, body, *match.groups())
        return 404, {"detail": f"no route {method} {path}"}

    def _job(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get(int(job_id)) if job_id.isdigit() else None

    def get_job(self, body, job_id):
        job = self._job(job_id)
        return (200, job) if job else (404, {"detail": f"Invalid job id specified: {job_id}"})

    def submit(self, body, *groups):
        if self.refuse_jobs:
            return 400, {"detail": self.refuse_jobs}
        job_id = self.next_job
        self.next_job += 1
        self.jobs[job_id] = {"job_id": job_id, "state": "PENDING", "node_list": None,
                             "ntasks": body["ntasks"], "allocation": body.get("allocation"),
                             "name": body.get("name"), "submitted": time.time(),
                             "submission": body, "user": _me()["user"]}
        self._start_pending_jobs()
        return 200, {"job_id": job_id, "job_ids": [job_id]}

    def cancel_jobs(self, body, *groups):
        for job_id in body.get("ids") or ():
            job = self._job(str(job_id))
            if job:
                job["state"] = "CANCELLED"
        return 200, {"cancelled": list(body.get("ids") or ()), "signalled": []}

    def create_step(self, body, job_id):
        job = self._job(job_id)
        if job is None:
            return 404, {"detail": f"Invalid job id specified: {job_id}"}
        if self.refuse_steps:
            return 400, {"detail": self.refuse_steps}
        if job["state"] != "RUNNING":
            return 400, {"detail": "Job/step already completing or completed"}
        if self.busy_answers > 0:
            self.busy_answers -= 1
            return 409, {"detail": "Requested nodes are busy"}
        step_id = sum(1 for j, _ in self.steps if j == job["job_id"])
        ntasks = body.get("ntasks") or body.get("nodes") or job["ntasks"]
        nodes = [self.node, *self.ghost_nodes]
        layout: dict[str, list[int]] = {node: [] for node in nodes}
        for task in range(ntasks):
            layout[nodes[task * len(nodes) // ntasks]].append(task)
        layout = {node: tasks for node, tasks in layout.items() if tasks}
        env = dict(body.get("env") or {})
        env.setdefault("SLURM_JOB_ID", str(job["job_id"]))
        me = _me()
        self.agent.launch_step(StepLaunch(
            job_id=job["job_id"], step_id=step_id, user=me["user"], uid=me["uid"], gid=me["gid"],
            argv=body["argv"], env=env, cwd=body["cwd"], tasks=layout[self.node], node_id=0,
            node_name=self.node, ntasks=ntasks, cpus_per_task=body.get("cpus_per_task"),
            io=body.get("io"), stdout=body.get("stdout"), stderr=body.get("stderr"),
            stdin=body.get("stdin"), time_limit=body.get("time_limit")))
        self.steps[(job["job_id"], step_id)] = {
            "job_id": job["job_id"], "step_id": step_id, "name": body.get("name") or "step",
            "state": "RUNNING", "node_list": compress(list(layout)), "nodes": len(layout),
            "ntasks": ntasks, "cpus": ntasks, "start_time": time.time(), "end_time": None,
            "exit_code": 0, "signal": 0, "cpu_time": None, "max_rss": None, "reason": "None",
            "command": " ".join(body["argv"]), "ghosts": [n for n in layout if n != self.node]}
        return 201, {"job_id": job["job_id"], "step_id": step_id, "node_list": compress(list(layout)),
                     "nodes": list(layout), "ntasks": ntasks, "tasks": layout}

    def list_steps(self, body, job_id):
        job = self._job(job_id)
        if job is None:
            return 404, {"detail": f"Invalid job id specified: {job_id}"}
        return 200, [_public(s) for (j, _), s in sorted(self.steps.items()) if j == job["job_id"]]

    def signal_step(self, body, job_id, step_id):
        try:
            self.agent.signal_step(int(job_id), int(step_id), signal_number(body["signal"]))
        except ValueError as error:
            return 404, {"detail": str(error)}
        return 200, {"signalled": f"{job_id}.{step_id}"}

    def cancel_step(self, body, job_id, step_id):
        try:
            self.agent.cancel_step(int(job_id), int(step_id))
        except ValueError as error:
            return 404, {"detail": str(error)}
        return 200, {"cancelled": f"{job_id}.{step_id}"}

    def keepalive(self, body, job_id):
        job = self._job(job_id)
        return 200, {"job_id": int(job_id), "state": job["state"] if job else "CANCELLED"}

    def release(self, body, job_id):
        job = self._job(job_id)
        self.released[int(job_id)] = body["exit_code"]
        if job:
            job["state"] = "COMPLETED" if body["exit_code"] == 0 else "FAILED"
        return 200, {"job_id": int(job_id)}

    def environment(self, body, job_id):
        job = self._job(job_id)
        return 200, {"SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id,
                     "SLURM_JOB_NAME": str(job.get("name")), "SLURM_JOB_NODELIST": self.node,
                     "SLURM_NODELIST": self.node, "SLURM_NNODES": "1",
                     "SLURM_NTASKS": str(job["ntasks"])}

    def nodes(self, body, *groups):
        return 200, [{"name": self.node, "state": "idle", "cpus": self.cpus, "addr": None,
                      "responding": True}]

    def update_node(self, body, name):
        self.node_updates.append((name, body))
        return 200, {"name": name}


_ROUTES = [
    (r"GET /jobs/(\d+)", FakeController.get_job),
    (r"POST /jobs", FakeController.submit),
    (r"POST /jobs/cancel", FakeController.cancel_jobs),
    (r"POST /jobs/(\d+)/steps", FakeController.create_step),
    (r"GET /jobs/(\d+)/steps", FakeController.list_steps),
    (r"POST /jobs/(\d+)/steps/(\d+)/signal", FakeController.signal_step),
    (r"POST /jobs/(\d+)/steps/(\d+)/cancel", FakeController.cancel_step),
    (r"POST /jobs/(\d+)/keepalive", FakeController.keepalive),
    (r"POST /jobs/(\d+)/release", FakeController.release),
    (r"GET /jobs/(\d+)/environment", FakeController.environment),
    (r"GET /nodes", FakeController.nodes),
    (r"PATCH /nodes/([^/]+)", FakeController.update_node),
]


def _public(step: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k != "ghosts"}


def _me() -> dict[str, Any]:
    entry = pwd.getpwuid(os.getuid())
    return {"user": entry.pw_name, "uid": entry.pw_uid, "gid": entry.pw_gid}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    controller: FakeController

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        status, answer = self.controller.route(self.command, self.path, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def address_string(self) -> str:
        return "local"

    def log_message(self, format: str, *args: Any) -> None:
        pass
