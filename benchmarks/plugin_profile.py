"""Where mlflow-oidc-auth spends its time, measured in one run (not a test): py-spy samples the
MLflow server process of the e2e stack while one client makes sequential requests, and the
samples are split by what the plugin or MLflow was doing.

Two workloads, SECONDS each:
  - `log metric with a PAT`: the stock client's way in (basic auth with a personal access
    token), one metric per request, as in benchmarks/auth_tax.py;
  - `browser login`: the form login of tests/e2e/form_login.py, MLflow's /login to its session.

A sample is one thread's stack at one instant (RATE per second, every thread). Samples of a
thread that is waiting for work (an idle worker, the event loop's select) are left out; the rest,
divided by RATE and by the requests made, is the server's thread time per request, waits for its
database included. Each such sample is put in the first part in PARTS whose frame it holds.

Run with the toolchain's env sourced, as root (py-spy reads the process):
    .venv/bin/python -m benchmarks.plugin_profile
It deploys the e2e test stack, so it must not run beside the suite.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.cli import arguments, emit, human_output
from benchmarks.engine import deployed_e2e_stack, progress
from benchmarks.plots import bar_chart
from tests.e2e.form_login import form_login, personal_access_token
from tests.support.deployment import PREFIX, Deployment, docker

SECONDS = 30
PY_SPY = str(Path(sys.executable).parent / "py-spy")
RATE = 200
USER = "alice"
# A sample in none of these is not counted as work: the thread waits to be given some.
IDLE = {"Condition.wait", "EpollSelector.select", "Queue.get", "_worker", "Runner.run"}
# (part, frames that place a sample in it), first match wins: callers of a part before the
# parts they call.
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("plugin: login callback, a fresh TLS context per OAuth client",
     ("create_default_context (ssl.py",)),
    ("plugin: login callback, token exchange with Keycloak",
     ("fetch_access_token (authlib",)),
    ("plugin: login callback, its database statements",
     ("_complete_login (mlflow_oidc_auth",)),
    ("plugin: /login, the authorization request", ("_begin_login (mlflow_oidc_auth",)),
    ("plugin: PAT check (token row, hash)", ("_authenticate_basic_auth_sync (mlflow_oidc_auth",)),
    ("plugin: user's profile (active, admin)", ("_get_user_auth_facts (mlflow_oidc_auth",)),
    ("plugin: session check", ("_authenticate_session (mlflow_oidc_auth",)),
    ("plugin: permission check (run's experiment, grants)",
     ("before_request_hook (mlflow_oidc_auth",)),
    ("plugin: its FastAPI routes matched before MLflow's Flask mount",
     ("_IncludedRouter.matches (fastapi", "APIRouter.matches (fastapi")),
    ("MLflow: the request's handler", ("Flask.full_dispatch_request (flask",)),
    ("plugin: other routes (current user, ...)", ("run_endpoint_function (fastapi",)),
]  # fmt: skip
OTHER = "middleware, WSGI bridge, HTTP, logging"

Workload = Callable[[], None]


def server_pid() -> str:
    """The host pid of the uvicorn process that serves MLflow in the container."""
    table = docker("top", f"{PREFIX}-mlflow", "-o", "pid,args")
    return next(line.split()[0] for line in table.splitlines() if "uvicorn" in line)


def profiled(label: str, workload: Workload, scratch: Path) -> tuple[int, collections.Counter[str]]:
    """Requests made and samples per part while `workload` runs for SECONDS."""
    output = scratch / f"{label.replace(' ', '-')}.txt"
    spy = subprocess.Popen(
        [PY_SPY, "record", "--pid", server_pid(), "--rate", str(RATE), "--format", "raw",
         "--nonblocking", "--output", str(output), "--duration", str(SECONDS + 5)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    progress(f"{label}: {SECONDS} s under py-spy")
    time.sleep(2)  # py-spy attached
    requests = 0
    until = time.monotonic() + SECONDS
    while time.monotonic() < until:
        workload()
        requests += 1
    _, errors = spy.communicate()
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed: {errors}")
    return requests, split(output)


def split(raw: Path) -> collections.Counter[str]:
    """Samples per part of py-spy's raw output (`frame;frame;... count` per line)."""
    parts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[-1].split(" (")[0] in IDLE:
            continue
        part = next((name for name, marks in PARTS if any(m in stack for m in marks)), OTHER)
        parts[part] += int(count)
    return parts


def pat_log_metric(deployment: Deployment) -> Workload:
    browser = form_login(deployment.mlflow_url, USER, deployment.set_known_password(USER))
    token = personal_access_token(browser, deployment.mlflow_url)
    with deployment.mlflow(basic=(f"{USER}@example.com", token)) as mlflow:
        experiment = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"profile-{int(time.time())}"}
        ).json()["experiment_id"]
        run = mlflow.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment})
    run_id = run.json()["run"]["info"]["run_id"]
    client = httpx.Client(
        base_url=deployment.mlflow_url, timeout=30, auth=(f"{USER}@example.com", token)
    )
    steps = iter(range(10**9))

    def log_metric() -> None:
        body = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 0, "step": next(steps)}
        answer = client.post("/api/2.0/mlflow/runs/log-metric", json=body)
        if answer.status_code != 200:
            raise SystemExit(f"log-metric: HTTP {answer.status_code} {answer.text[:200]}")

    return log_metric


def browser_login(deployment: Deployment) -> Workload:
    password = deployment.set_known_password(USER)
    return lambda: form_login(deployment.mlflow_url, USER, password).close()


def main() -> None:
    options = arguments(__doc__)
    results: dict[str, tuple[int, collections.Counter[str]]] = {}
    with human_output(options):
        with deployed_e2e_stack() as (deployment, _), tempfile.TemporaryDirectory() as scratch:
            for label, workload in [
                ("log metric with a PAT", pat_log_metric(deployment)),
                ("browser login", browser_login(deployment)),
            ]:
                results[label] = profiled(label, workload, Path(scratch))
        report(results)
    emit(options, {label: {"requests": requests, "msPerRequest": {
        part: samples / RATE / requests * 1000 for part, samples in parts.most_common()}}
        for label, (requests, parts) in results.items()})  # fmt: skip


def report(results: dict[str, tuple[int, collections.Counter[str]]]) -> None:
    bars: dict[str, float] = {}
    for label, (requests, parts) in results.items():
        print(f"\n{label}: {requests} in {SECONDS} s; server thread time per request, ms\n")
        print("| part | ms | share |")
        print("|---|---|---|")
        total = sum(parts.values())
        for part, samples in parts.most_common():
            ms = samples / RATE / requests * 1000
            print(f"| {part} | {ms:.1f} | {samples / total:.0%} |")
            bars[f"{label}: {part}"] = ms
        print(f"| all | {total / RATE / requests * 1000:.1f} | 100% |")
    bar_chart(
        "plugin_profile",
        "MLflow server thread time per request, by part (py-spy)",
        "ms per request",
        {label: ms for label, ms in bars.items() if ms >= 0.5},
    )


if __name__ == "__main__":
    main()
