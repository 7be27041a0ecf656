"""MLflow's throughput against its number of worker processes (`mlflowWorkers`), measured
side by side in one run on this machine (not a test).

For each worker count the stack's MLflow container is replaced by `pulumi up`; then
CLIENTS threads, each with its own Keycloak access token, send a fixed mix for
SECONDS_PER_CASE: a metric write, a run search and a run read, one request at a time. Printed
per worker count: requests/s, p50/p95, the ratio to one worker, failures, and the container's
memory afterwards.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.workers
It deploys the e2e test stack, so it must not run beside the suite.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from benchmarks.cli import arguments, emit, human_output
from benchmarks.engine import deployed_e2e_stack, log, percentile, progress
from benchmarks.plots import bar_chart
from tests.support.deployment import CONTAINERS, Deployment, docker

WORKER_COUNTS = (1, 2, 4)
CLIENTS = 8
SECONDS_PER_CASE = 20
WARMUP_REQUESTS = 30


@dataclass
class Case:
    workers: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    memory: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


def requests_of(experiment_id: str, run_id: str, step: int) -> tuple[str, str, dict[str, object]]:
    """The mix: metric write, run search, run read, in turn."""
    kind = step % 3
    if kind == 0:
        metric = {"run_id": run_id, "key": "w", "value": step, "timestamp": step, "step": step}
        return "POST", "/api/2.0/mlflow/runs/log-metric", {"json": metric}
    if kind == 1:
        search = {"experiment_ids": [experiment_id], "max_results": 20}
        return "POST", "/api/2.0/mlflow/runs/search", {"json": search}
    return "GET", "/api/2.0/mlflow/runs/get", {"params": {"run_id": run_id}}


def client_loop(
    deployment: Deployment,
    token: str,
    experiment_id: str,
    run_id: str,
    deadline: float,
    case: Case,
    lock: threading.Lock,
) -> None:
    latencies, failures = [], 0
    with deployment.mlflow(token) as mlflow:
        step = 0
        while time.monotonic() < deadline:
            method, path, options = requests_of(experiment_id, run_id, step)
            started = time.monotonic()
            try:
                answer = mlflow.request(method, path, **options)  # type: ignore[arg-type]
                if answer.status_code == 200:
                    latencies.append(time.monotonic() - started)
                else:
                    failures += 1
            except httpx.HTTPError:
                failures += 1
            step += 1
    with lock:
        case.latencies.extend(latencies)
        case.failures += failures


def measure(deployment: Deployment, workers: int) -> Case:
    progress(f"mlflowWorkers: {workers}, pulumi up")
    deployment.set_config("mlflowWorkers", workers)
    deployment.up(log)
    token = deployment.user_tokens("alice")["access_token"]
    with deployment.mlflow(token) as mlflow:
        experiment_id = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"workers-{workers}"}
        ).json()["experiment_id"]
        run_id = mlflow.post(
            "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}
        ).json()["run"]["info"]["run_id"]
        # Every worker has imported, connected and cached the keys before timing starts.
        for step in range(WARMUP_REQUESTS):
            method, path, options = requests_of(experiment_id, run_id, step)
            mlflow.request(method, path, **options)  # type: ignore[arg-type]
    tokens = [deployment.oidc().token("alice", deployment.set_known_password("alice"))
              ["access_token"] for _ in range(CLIENTS)]  # fmt: skip
    case, lock = Case(workers), threading.Lock()
    progress(f"{CLIENTS} clients for {SECONDS_PER_CASE} s against {workers} worker(s)")
    started = time.monotonic()
    deadline = started + SECONDS_PER_CASE
    threads = [
        threading.Thread(
            target=client_loop,
            args=(deployment, token, experiment_id, run_id, deadline, case, lock),
        )
        for token in tokens
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    case.seconds = time.monotonic() - started
    mlflow_container = CONTAINERS[3]
    case.memory = docker(
        "stats", "--no-stream", "--format", "{{.MemUsage}}", mlflow_container
    ).strip()
    return case


def main() -> None:
    options = arguments(__doc__)
    with human_output(options), deployed_e2e_stack() as (deployment, _):
        cases = [measure(deployment, workers) for workers in WORKER_COUNTS]
        report(cases)
    rows = [
        {"workers": case.workers, "requestsPerSecond": case.rate,
         "p50Ms": percentile(case.latencies, 50) * 1000,
         "p95Ms": percentile(case.latencies, 95) * 1000,
         "failed": case.failures, "memory": case.memory}
        for case in cases
    ]  # fmt: skip
    emit(options, {"cases": rows})


def report(cases: list[Case]) -> None:
    base = cases[0].rate
    print(f"\nMLflow throughput, {CLIENTS} clients, {SECONDS_PER_CASE} s per worker count\n")
    print("| workers | requests/s | vs 1 worker | p50 (ms) | p95 (ms) | failed | memory |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        p50, p95 = percentile(case.latencies, 50) * 1000, percentile(case.latencies, 95) * 1000
        print(
            f"| {case.workers} | {case.rate:.1f} | {case.rate / base:.2f}x | {p50:.0f} | "
            f"{p95:.0f} | {case.failures} | {case.memory} |"
        )
    bar_chart(
        "workers",
        f"MLflow requests/s with {CLIENTS} clients, by worker processes",
        "requests per second",
        {f"{case.workers} worker(s)": case.rate for case in cases},
    )


if __name__ == "__main__":
    main()
