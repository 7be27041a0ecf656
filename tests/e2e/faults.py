"""Faults a host inflicts, under a steady load, and what they cost: time to healthy, requests
failed during the outage, acknowledged writes lost.

A crash is SIGKILL of the container's main process from the host, which is what the kernel's
OOM killer or a segfault does. `docker kill` is not one: Docker counts it as a manual stop and
its restart policy then leaves the container down (measured on Docker 20.10: `docker kill` of
an `unless-stopped` container left it exited, `kill -9` of its process had it running again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.e2e.form_login import SignInError, form_login
from tests.support.deployment import Deployment, docker, poll
from tests.support.workdir import REPO

REQUEST_TIMEOUT = 10
PAUSE_BETWEEN_REQUESTS = 0.05


@dataclass
class Load:
    """Two streams until stopped: metric writes through a personal access token (MLflow and
    its Postgres alone), and fresh sign-ins through Keycloak's login form, the authorization
    code redeemed by MLflow (the whole stack). Every write MLflow acknowledged is recorded."""

    deployment: Deployment
    run_id: str
    username: str
    password: str
    access_token: str
    acknowledged: list[int] = field(default_factory=list)
    failed_writes: int = 0
    logins: int = 0
    failed_logins: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._write, daemon=True),
            threading.Thread(target=self._login, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT * 2)

    def _write(self) -> None:
        step = 0
        auth = (f"{self.username}@example.com", self.access_token)
        while not self._stop.is_set():
            with self.deployment.mlflow(basic=auth) as mlflow:
                try:
                    answer = mlflow.post(
                        "/api/2.0/mlflow/runs/log-metric",
                        json={"run_id": self.run_id, "key": "load", "value": step,
                              "timestamp": step, "step": step},
                        timeout=REQUEST_TIMEOUT,
                    )  # fmt: skip
                    if answer.status_code == 200:
                        self.acknowledged.append(step)
                    else:
                        self.failed_writes += 1
                except httpx.HTTPError:
                    self.failed_writes += 1
            step += 1
            time.sleep(PAUSE_BETWEEN_REQUESTS)

    def _login(self) -> None:
        while not self._stop.is_set():
            try:
                verify = self.deployment.tls()  # the stack's CA when it serves HTTPS
                form_login(self.deployment.mlflow_url, self.username, self.password, verify).close()
                self.logins += 1
            except (SignInError, httpx.HTTPError):
                self.failed_logins += 1
            time.sleep(PAUSE_BETWEEN_REQUESTS * 4)

    def stored_steps(self) -> set[int]:
        auth = (f"{self.username}@example.com", self.access_token)
        with self.deployment.mlflow(basic=auth) as mlflow:
            history = mlflow.get(
                "/api/2.0/mlflow/metrics/get-history",
                params={"run_id": self.run_id, "metric_key": "load", "max_results": 100000},
            )
        history.raise_for_status()
        return {int(m["step"]) for m in history.json()["metrics"]}


def health(container: str) -> tuple[str, int]:
    status, restarts = docker(
        "inspect", "--format", "{{.State.Health.Status}} {{.RestartCount}}", container
    ).split()
    return status, int(restarts)


def crash(container: str) -> None:
    """SIGKILL of the container's main process, as the OOM killer would."""
    pid = int(docker("inspect", "--format", "{{.State.Pid}}", container))
    os.kill(pid, signal.SIGKILL)


def restart_docker_engine() -> None:
    """dockerd stopped (its containers with it: no live-restore) and started again the way
    the toolchain starts it."""
    pid = int(subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout)
    os.kill(pid, signal.SIGTERM)
    poll(lambda: subprocess.run(["pidof", "dockerd"], capture_output=True).returncode != 0, 120)
    subprocess.run(["bash", str(REPO / "toolchain/docker-engine.sh")], check=True)


@dataclass(frozen=True)
class Outcome:
    fault: str
    seconds_to_healthy: float
    failed_writes: int
    failed_logins: int
    acknowledged_writes: int
    lost_writes: int

    def row(self) -> str:
        return (
            f"{self.fault}: healthy after {self.seconds_to_healthy:.1f} s, "
            f"{self.failed_writes} writes and {self.failed_logins} logins failed, "
            f"{self.acknowledged_writes} writes acknowledged, {self.lost_writes} lost"
        )


def under_load(
    load: Load,
    fault: str,
    inflict: Callable[[], None],
    containers: list[str],
    log: Callable[[str], None],
    crashed: str | None = None,
) -> Outcome:
    """Inflict the fault while the load runs; wait until every container is healthy again by
    itself (the crashed one restarted by Docker) and both streams succeed again; then compare
    the stored writes with the acknowledged ones."""
    restarts = {name: health(name)[1] for name in containers}
    load.start()
    time.sleep(2)
    started = time.monotonic()
    inflict()

    def recovered() -> bool:
        try:
            states = {name: health(name) for name in containers}
        except subprocess.CalledProcessError:
            return False  # the engine is not answering yet
        return all(status == "healthy" for status, _ in states.values()) and (
            crashed is None or states[crashed][1] > restarts[crashed]
        )

    try:
        poll(recovered, timeout=300, interval=0.5)
        to_healthy = time.monotonic() - started
        writes, logins = len(load.acknowledged), load.logins
        poll(lambda: len(load.acknowledged) > writes and load.logins > logins, 120, 0.5)
    finally:
        load.stop()
    stored = load.stored_steps()
    lost = set(load.acknowledged) - stored
    outcome = Outcome(
        fault=fault,
        seconds_to_healthy=to_healthy,
        failed_writes=load.failed_writes,
        failed_logins=load.failed_logins,
        acknowledged_writes=len(load.acknowledged),
        lost_writes=len(lost),
    )
    log(outcome.row())
    return outcome
