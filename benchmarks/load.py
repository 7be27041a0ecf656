"""A bounded load on the stack, made the way its users make it (not a test).

  - N people, each signed in through Keycloak's login form (the authorization-code flow,
    tests/e2e/form_login.py), each with the personal access token the plugin issues them,
    each in a process of their own driving the stock MLflow client: a run, then metrics,
    params and run searches, one request at a time;
  - beside them, a stream of fresh form logins of one more person.
Every write MLflow acknowledged is recorded, then read back: the figures are requests per
second, p50/p95 per operation, failures, and acknowledged writes lost (must be 0).

Bounded: --seconds per stream and --requests per person, whichever comes first; it talks to
loopback only and stops by itself.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.load [--users 4]
It deploys the e2e test stack, so it must not run beside the suite.
"""

from __future__ import annotations

import argparse
import ipaddress
import multiprocessing
import os
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from benchmarks.cli import arguments, emit, human_output
from benchmarks.engine import deployed_e2e_stack, percentile, progress
from benchmarks.plots import bar_chart
from tests.e2e.form_login import SignInError, form_login, personal_access_token
from tests.support.deployment import Deployment

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

OPERATIONS = ("log_metric", "log_param", "search_runs")


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    address = ipaddress.ip_address(socket.gethostbyname(host))
    if not address.is_loopback:
        sys.exit(f"error: {url} is not on loopback ({address}); the load generator stays local")


@dataclass
class Person:
    username: str
    password: str
    experiment_id: str = ""
    token: str = ""


def stock_client(mlflow_url: str, person: Person) -> MlflowClient:
    """The stock MLflow client as the person: it reads its credentials from the environment,
    hence a process per person."""
    os.environ["MLFLOW_TRACKING_USERNAME"] = f"{person.username}@example.com"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = person.token
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a failure is counted, not hidden
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "10"
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_url)


def drive(mlflow_url: str, person: Person, seconds: float, max_requests: int) -> dict[str, Any]:
    """One person's session with the stock MLflow client, in a process of its own."""
    client = stock_client(mlflow_url, person)
    run_id = client.create_run(person.experiment_id).info.run_id
    latencies: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    acked_steps: list[int] = []
    acked_params: list[str] = []
    failures = 0
    deadline = time.monotonic() + seconds
    for step in range(max_requests):
        if time.monotonic() > deadline:
            break
        op = "search_runs" if step % 5 == 4 else "log_param" if step % 10 == 3 else "log_metric"
        started = time.monotonic()
        try:
            if op == "log_metric":
                client.log_metric(run_id, "load", float(step), step=step)
                acked_steps.append(step)
            elif op == "log_param":
                client.log_param(run_id, f"p{step}", str(step))
                acked_params.append(f"p{step}")
            else:
                client.search_runs([person.experiment_id], max_results=10)
        except Exception:  # the client's own errors and requests' alike
            failures += 1
            continue
        latencies[op].append(time.monotonic() - started)
    return {
        "username": person.username,
        "run_id": run_id,
        "acked_steps": acked_steps,
        "acked_params": acked_params,
        "failures": failures,
        "latencies": latencies,
    }


def lost_writes(mlflow_url: str, person: Person, result: dict[str, Any]) -> int:
    """Acknowledged metric steps and params not stored, read back through the client."""
    client = stock_client(mlflow_url, person)
    stored_steps = {m.step for m in client.get_metric_history(result["run_id"], "load")}
    stored_params = set(client.get_run(result["run_id"]).data.params)
    return len(set(result["acked_steps"]) - stored_steps) + len(
        set(result["acked_params"]) - stored_params
    )


@dataclass
class LoginStream:
    """Fresh form logins of one person, one after another, until the deadline."""

    mlflow_url: str
    person: Person
    seconds: float
    ok: list[float] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                form_login(self.mlflow_url, self.person.username, self.person.password).close()
                self.ok.append(time.monotonic() - started)
            except (SignInError, OSError) as refused:
                self.refused.append(str(refused))


def people(deployment: Deployment, count: int) -> list[Person]:
    """count + 1 people of the realm's MLflow group with passwords only this run knows."""
    admin = deployment.admin()
    made = []
    for number in range(count + 1):
        username = f"load-{number}"
        password = "L0ad-" + secrets.token_urlsafe(18)
        if admin.get_user_id(username) is None:
            admin.create_user(
                {"username": username, "email": f"{username}@example.com", "enabled": True,
                 "firstName": "Load", "lastName": str(number), "groups": ["mlflow"]}
            )  # fmt: skip
        admin.set_user_password(str(admin.get_user_id(username)), password, temporary=False)
        made.append(Person(username, password))
    return made


def sign_in_and_prepare(mlflow_url: str, person: Person) -> None:
    """The person's form login, their access token, their own experiment."""
    browser = form_login(mlflow_url, person.username, person.password)
    try:
        person.token = personal_access_token(browser, mlflow_url)
        created = browser.request(
            "POST",
            f"{mlflow_url}/api/2.0/mlflow/experiments/create",
            json={"name": f"load-{person.username}-{secrets.token_hex(3)}"},
        )
        created.raise_for_status()
        person.experiment_id = str(created.json()["experiment_id"])
    finally:
        browser.close()


def report(results: list[dict[str, Any]], logins: LoginStream, lost: int, wall: float) -> None:
    print(f"\nload: {len(results)} people through the stock MLflow client for {wall:.1f} s, "
          f"plus a stream of form logins\n")  # fmt: skip
    print("| operation | requests | per second | p50 (ms) | p95 (ms) |")
    print("|---|---|---|---|---|")
    rows = {op: [v for r in results for v in r["latencies"][op]] for op in OPERATIONS}
    rows["form login (authorization code)"] = logins.ok
    for op, values in rows.items():
        p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
        print(f"| {op} | {len(values)} | {len(values) / wall:.1f} | {p50:.0f} | {p95:.0f} |")
    acked = sum(len(r["acked_steps"]) + len(r["acked_params"]) for r in results)
    failures = sum(r["failures"] for r in results)
    print(f"\nwrites acknowledged: {acked}; lost: {lost}; failed requests: {failures}; "
          f"refused logins: {len(logins.refused)}")  # fmt: skip
    for reason in sorted(set(logins.refused))[:5]:
        print(f"  refused: {reason}")
    bar_chart(
        "load",
        f"p50 latency under the load of {len(results)} people",
        "milliseconds",
        {op: percentile(values, 50) * 1000 for op, values in rows.items()},
    )


def options_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=4, help="people driving MLflow (1-16)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the load (<= 600)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per person")


def main() -> None:
    options = arguments(__doc__, options_of)
    if not 1 <= options.users <= 16 or not 0 < options.seconds <= 600 or options.requests < 1:
        sys.exit("error: --users must be 1-16, --seconds 1-600, --requests >= 1")
    with human_output(options):
        result = measure(options)
    emit(options, result)


def measure(options: argparse.Namespace) -> dict[str, object]:
    with deployed_e2e_stack() as (deployment, _):
        url = deployment.mlflow_url
        require_loopback(url)
        everyone = people(deployment, options.users)
        drivers, login_person = everyone[:-1], everyone[-1]
        progress(f"signing {len(drivers)} people in through Keycloak's form")
        for person in drivers:
            sign_in_and_prepare(url, person)
        logins = LoginStream(url, login_person, options.seconds)
        stream = threading.Thread(target=logins.run)
        progress(f"load for up to {options.seconds:.0f} s or {options.requests} requests each")
        started = time.monotonic()
        stream.start()
        with multiprocessing.get_context("spawn").Pool(len(drivers)) as pool:
            results = pool.starmap(
                drive, [(url, p, options.seconds, options.requests) for p in drivers]
            )
        stream.join()
        wall = time.monotonic() - started
        progress("reading every acknowledged write back")
        lost = sum(lost_writes(url, p, r) for p, r in zip(drivers, results, strict=True))
        report(results, logins, lost, wall)
    return {
        "people": len(results),
        "wallSeconds": wall,
        "acknowledgedWrites": sum(len(r["acked_steps"]) + len(r["acked_params"]) for r in results),
        "lostWrites": lost,
        "failedRequests": sum(r["failures"] for r in results),
        "formLogins": logins.ok,
        "refusedLogins": len(logins.refused),
    }


if __name__ == "__main__":
    main()
