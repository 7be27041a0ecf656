"""The auth tax, measured in one run (not a test): MLflow REST latency through mlflow-oidc-auth
with a Keycloak bearer token, a personal access token and a browser session, against the same
image without the plugin on the same tracking database.

For each operation (create run, log metric, search runs) and each way in, REQUESTS sequential
requests, in rounds of ROUND per way in turn, so drift on the machine hits every way alike.
Printed: p50 and p95 per cell, and p50 against no auth.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.auth_tax
It deploys the e2e test stack, so it must not run beside the suite.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from benchmarks.cli import arguments, emit, human_output
from benchmarks.engine import deployed_e2e_stack, progress
from tests.e2e.browser_login import sign_in
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.deployment import PREFIX, Deployment, docker, poll

REQUESTS = 200
ROUND = 20
USER = "alice"
PLAIN = "mks-bench-mlflow-plain"
PLAIN_PORT = 29500


def plain_mlflow(scratch: Path) -> str:
    """The stack's MLflow image without the plugin, on the stack's tracking database."""
    env = docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}",
                 f"{PREFIX}-mlflow")  # fmt: skip
    uri = next(line for line in env.splitlines() if line.startswith("MLFLOW_BACKEND_STORE_URI="))
    env_file = scratch / "plain.env"
    env_file.touch(mode=0o600)
    env_file.write_text(uri + "\n")  # holds the database password: never on a command line
    image = docker("inspect", "--format", "{{.Image}}", f"{PREFIX}-mlflow").strip()
    docker(
        "run", "-d", "--name", PLAIN, "--network", f"{PREFIX}-mlflow-db-net",
        "-p", f"127.0.0.1:{PLAIN_PORT}:5000", "--env-file", str(env_file), image,
        "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1",
    )  # fmt: skip
    url = f"http://127.0.0.1:{PLAIN_PORT}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    poll(healthy, 180, 1)
    return url


Call = Callable[[httpx.Client], httpx.Response]


def operations(experiment_id: str, run_id: str) -> dict[str, Call]:
    step = iter(range(10**9))
    return {
        "create run": lambda c: c.post(
            "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}
        ),
        "log metric": lambda c: c.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 0, "step": next(step)},
        ),
        "search runs": lambda c: c.post(
            "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [experiment_id], "max_results": 50},
        ),
    }


def timed(way: str, client: httpx.Client, call: Call) -> float:
    started = time.perf_counter()
    answer = call(client)
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        request = answer.request
        raise SystemExit(f"{way}: {request.method} {request.url}: {answer.status_code} "
                         f"{answer.text[:200]}")  # fmt: skip
    return seconds


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1] * 1000


def main() -> None:
    options = arguments(__doc__)
    with human_output(options):
        with deployed_e2e_stack() as (deployment, scratch):
            try:
                results = measure(deployment, scratch)
            finally:
                subprocess.run(["docker", "rm", "-f", PLAIN], capture_output=True, check=False)
        report(results)
    cells = []
    for (operation, way), values in results.items():
        base = percentile(results[(operation, "no auth (no plugin)")], 50)
        p50 = percentile(values, 50)
        cells.append({"operation": operation, "way": way, "p50Ms": p50,
                      "p95Ms": percentile(values, 95), "vsNoAuth": p50 / base})  # fmt: skip
    emit(options, {"requestsPerCell": REQUESTS, "cells": cells})


def session_client(deployment: Deployment, cookies: Any) -> httpx.Client:
    # A header, not the cookie jar: Python's jar files a dotless host (localhost) under
    # "localhost.local" and would send the browser's cookies nowhere.
    host = httpx.URL(deployment.mlflow_url).host
    jar = "; ".join(f"{c['name']}={c['value']}" for c in cookies if c["domain"].lstrip(".") == host)
    return httpx.Client(base_url=deployment.mlflow_url, timeout=30, headers={"Cookie": jar})


def measure(deployment: Deployment, scratch: Path) -> dict[tuple[str, str], list[float]]:
    progress("starting the same MLflow image without the plugin")
    plain_url = plain_mlflow(scratch)
    with deployment.mlflow(deployment.user_tokens(USER)["access_token"]) as mlflow:
        pat = mlflow.patch("/api/2.0/mlflow/users/access-token", json={}).json()["token"]
        experiment_id = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"auth-tax-{int(time.time())}"}
        ).json()["experiment_id"]
        run_id = mlflow.post(
            "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}
        ).json()["run"]["info"]["run_id"]
    ways = {
        "no auth (no plugin)": httpx.Client(base_url=plain_url, timeout=30),
        "bearer token": deployment.mlflow(deployment.user_tokens(USER)["access_token"]),
        "personal access token": deployment.mlflow(basic=(f"{USER}@example.com", pat)),
    }
    results: dict[tuple[str, str], list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for operation, call in operations(experiment_id, run_id).items():
            # The plugin's browser session lasts as long as the access token it holds (60 s
            # in the e2e realm): a fresh sign-in through Keycloak's login page per operation.
            context = browser.new_context()
            sign_in(context.new_page(), deployment, USER, deployment.set_known_password(USER))
            ways["browser session"] = session_client(deployment, context.cookies())
            context.close()
            progress(f"{operation}: {REQUESTS} requests per way in")
            for _ in range(REQUESTS // ROUND):
                # A fresh bearer token per round, well inside its 60 s.
                token = deployment.user_tokens(USER)["access_token"]
                ways["bearer token"].headers["Authorization"] = f"Bearer {token}"
                for way, client in ways.items():
                    cell = results.setdefault((operation, way), [])
                    cell.extend(timed(way, client, call) for _ in range(ROUND))
            ways.pop("browser session").close()
        browser.close()
    for client in ways.values():
        client.close()
    return results


def report(results: dict[tuple[str, str], list[float]]) -> None:
    print(f"{'operation':12} {'way in':24} {'p50 ms':>7} {'p95 ms':>7} {'p50 / no auth':>14}")
    for (operation, way), values in results.items():
        base = percentile(results[(operation, "no auth (no plugin)")], 50)
        p50 = percentile(values, 50)
        print(f"{operation:12} {way:24} {p50:7.1f} {percentile(values, 95):7.1f} "
              f"{p50 / base:13.2f}x")  # fmt: skip
    print(f"({REQUESTS} sequential requests per cell, {os.cpu_count()} CPUs)", file=sys.stderr)


if __name__ == "__main__":
    main()
