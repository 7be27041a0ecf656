"""Login capacity through the whole stack, and why concurrent logins of one user are refused,
measured in one run (not a test).

Two kinds of login, each for SECONDS_PER_CASE:
  - the form login a browser makes (tests/e2e/form_login.py): MLflow's /login, Keycloak's
    form, the password posted, MLflow's /callback redeeming the code, MLflow's session;
  - the password grant straight at Keycloak (what the e2e suite and scripts use).
For each: logins per second, and the CPU time each container spent per login, read from
Docker's own counters, so "logins per Keycloak vCPU" compares with Keycloak's sizing guide
(15 password logins/s per vCPU) whatever else the 2 vCPUs were doing. Then two threads
logging the same user in, with Keycloak's LOGIN_ERROR reasons and its brute-force record of
the user; then the same with `bruteForceAllowConcurrentLogins` on.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.logins
It deploys the e2e test stack, so it must not run beside the suite.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from benchmarks.cli import arguments, emit, human_output
from benchmarks.engine import deployed_e2e_stack, log, progress
from benchmarks.plots import bar_chart
from tests.e2e.form_login import SignInError, form_login
from tests.support.deployment import CONTAINERS, Deployment

SECONDS_PER_CASE = 20
DOCKER_SOCKET = "/var/run/docker.sock"


def form(deployment: Deployment, username: str, password: str) -> bool:
    try:
        form_login(deployment.mlflow_url, username, password).close()
        return True
    except (SignInError, httpx.HTTPError):
        return False


def password_grant(deployment: Deployment, username: str, password: str) -> bool:
    try:
        deployment.oidc().token(username, password)
        return True
    except Exception:  # python-keycloak's own errors and httpx's alike
        return False


Login = Callable[[Deployment, str, str], bool]


def cpu_seconds() -> dict[str, float]:
    """Each stack container's CPU time so far, from the Docker engine's stats."""
    transport = httpx.HTTPTransport(uds=DOCKER_SOCKET)
    seconds = {}
    with httpx.Client(transport=transport, base_url="http://docker", timeout=30) as engine:
        for name in CONTAINERS:
            stats = engine.get(
                f"/containers/{name}/stats", params={"stream": "false", "one-shot": "true"}
            )
            stats.raise_for_status()
            seconds[name] = stats.json()["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
    return seconds


@dataclass
class Case:
    label: str
    seconds: float
    ok: int
    refused: int
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def cpu_per_login(self, container: str) -> float:
        return self.cpu[container] / max(self.ok, 1)


def run_case(
    label: str, deployment: Deployment, login: Login, users: list[tuple[str, str]]
) -> Case:
    """Each (user, password) signs in over and over in its own thread for SECONDS_PER_CASE."""
    progress(label)
    done: Counter[bool] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS_PER_CASE

    def loop(username: str, password: str) -> None:
        while time.monotonic() < deadline:
            ok = login(deployment, username, password)
            with lock:
                done[ok] += 1

    before, started = cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=loop, args=user) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = cpu_seconds()
    cpu = {name: after[name] - before[name] for name in CONTAINERS}
    return Case(label, elapsed, done[True], done[False], cpu)


def login_errors(deployment: Deployment) -> Counter[str]:
    events = deployment.admin().get_events({"type": "LOGIN_ERROR", "max": 100000})
    return Counter(str(event.get("error")) for event in events)


def brute_force_record(deployment: Deployment, username: str) -> dict[str, object]:
    """What Keycloak's brute-force detector holds against the user: failures counted, locked."""
    admin = deployment.admin()
    path = f"admin/realms/{deployment.realm}/attack-detection/brute-force/users/"
    record: dict[str, object] = admin.connection.raw_get(path + deployment.user_id(username)).json()
    return record


def main() -> None:
    options = arguments(__doc__)
    with human_output(options):
        cases, errors, record, errors_allowed = measure()
        report(cases, errors, record, errors_allowed)
    rows = [{"case": c.label, "loginsPerSecond": c.rate, "ok": c.ok, "refused": c.refused,
             "cpuSeconds": c.cpu} for c in cases]  # fmt: skip
    emit(options, {"cases": rows, "loginErrors": dict(errors), "bruteForceRecord": record,
                   "loginErrorsWithConcurrentLogins": dict(errors_allowed)})  # fmt: skip


def measure() -> tuple[list[Case], Counter[str], dict[str, object], Counter[str]]:
    cases: list[Case] = []
    with deployed_e2e_stack() as (deployment, _):
        alice = ("alice", deployment.set_known_password("alice"))
        bella = ("bella", deployment.set_known_password("bella"))
        grant = password_grant
        for label, login, users in [
            ("form login, 1 thread", form, [alice]),
            ("form login, 2 threads, 2 users", form, [alice, bella]),
            ("password grant, 1 thread", grant, [alice]),
            ("password grant, 2 threads, 2 users", grant, [alice, bella]),
        ]:
            cases.append(run_case(label, deployment, login, users))
        errors_before = login_errors(deployment)
        for label, login in [("password grant", grant), ("form login", form)]:
            cases.append(run_case(f"{label}, 2 threads, same user", deployment, login, [alice] * 2))
        errors = login_errors(deployment) - errors_before
        record = brute_force_record(deployment, "alice")
        progress("bruteForceAllowConcurrentLogins: true, pulumi up")
        deployment.set_config("bruteForceAllowConcurrentLogins", True)
        deployment.up(log)
        errors_before = login_errors(deployment)
        label = "password grant, 2 threads, same user, concurrent logins allowed"
        cases.append(run_case(label, deployment, grant, [alice] * 2))
        errors_allowed = login_errors(deployment) - errors_before
    return cases, errors, record, errors_allowed


def report(
    cases: list[Case],
    errors: Counter[str],
    record: dict[str, object],
    errors_allowed: Counter[str],
) -> None:
    cpus = os.cpu_count() or 1
    keycloak, mlflow, keycloak_db = CONTAINERS[2], CONTAINERS[3], CONTAINERS[1]
    print(f"\nlogins for {SECONDS_PER_CASE} s per case on {cpus} vCPUs\n")
    print(
        "| case | logins/s | per vCPU | ok | refused | Keycloak CPU ms/login "
        "| logins per Keycloak vCPU-s | MLflow CPU ms/login | Keycloak DB CPU ms/login |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        per_keycloak_cpu = case.ok / case.cpu[keycloak] if case.cpu[keycloak] else float("nan")
        print(
            f"| {case.label} | {case.rate:.1f} | {case.rate / cpus:.1f} | {case.ok} | "
            f"{case.refused} | {case.cpu_per_login(keycloak) * 1000:.0f} | "
            f"{per_keycloak_cpu:.1f} | {case.cpu_per_login(mlflow) * 1000:.0f} | "
            f"{case.cpu_per_login(keycloak_db) * 1000:.0f} |"
        )
    print("\nKeycloak's sizing guide: 15 password logins/s per vCPU")
    print(f"LOGIN_ERROR events of the two same-user cases, by error: {dict(errors) or 'none'}")
    print(f"Keycloak's brute-force record of that user afterwards: {record}")
    print(f"LOGIN_ERROR events with concurrent logins allowed: {dict(errors_allowed) or 'none'}")
    bar_chart(
        "logins",
        "Complete logins per second through the stack",
        "logins per second",
        {case.label: case.rate for case in cases},
    )


if __name__ == "__main__":
    main()
