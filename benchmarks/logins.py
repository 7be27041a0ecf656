"""Login capacity through the whole stack, measured in one run (not a test).

A browser-equivalent login: open MLflow, get sent to Keycloak's login form, post the
password, come back through MLflow's /callback (which redeems the code at Keycloak) and ask
MLflow who is signed in; plain HTTP, no JavaScript, every redirect followed. Measured:
  1. one client thread: complete logins per second (and per vCPU, against Keycloak's sizing
     guide: 15 password logins/s per vCPU);
  2. two client threads signing the same user in, and two signing two users in: logins/s
     and refusals;
  3. the password grant with two threads on one user, and Keycloak's own LOGIN_ERROR events
     for the refusals, which say why.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.logins
It deploys the e2e test stack, so it must not run beside the suite.
"""

from __future__ import annotations

import html
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from benchmarks.engine import deployed_e2e_stack, progress
from tests.e2e.deployment import Deployment

SECONDS_PER_CASE = 20
FORM_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')


def browser_login(deployment: Deployment, username: str, password: str) -> bool:
    """One complete sign-in to MLflow through Keycloak's form; True when MLflow knows the user."""
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        form = browser.get(deployment.mlflow_url)
        found = FORM_ACTION.search(form.text)
        if found is None:
            return False
        landed = browser.post(
            html.unescape(found.group(1)),
            data={"username": username, "password": password, "credentialId": ""},
        )
        if landed.status_code != 200:
            return False
        me = browser.get(f"{deployment.mlflow_url}/api/2.0/mlflow/users/current")
        return me.status_code == 200 and me.json().get("username") == f"{username}@example.com"


def password_grant(deployment: Deployment, username: str, password: str) -> bool:
    try:
        deployment.oidc().token(username, password)
        return True
    except Exception:  # python-keycloak's own errors and httpx's alike
        return False


Login = Callable[[Deployment, str, str], bool]


def run_case(
    deployment: Deployment, login: Login, users: list[tuple[str, str]]
) -> tuple[float, int, int]:
    """Each (user, password) signs in over and over in its own thread for SECONDS_PER_CASE:
    logins per second, successes, refusals."""
    done: Counter[bool] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS_PER_CASE

    def loop(username: str, password: str) -> None:
        while time.monotonic() < deadline:
            ok = login(deployment, username, password)
            with lock:
                done[ok] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=user) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return done[True] / elapsed, done[True], done[False]


def main() -> None:
    with deployed_e2e_stack() as (deployment, _):
        alice = ("alice", deployment.set_known_password("alice"))
        adam = ("adam", deployment.set_known_password("adam"))
        cases: list[tuple[str, Login, list[tuple[str, str]]]] = [
            ("browser login, 1 thread", browser_login, [alice]),
            ("browser login, 2 threads, same user", browser_login, [alice, alice]),
            ("browser login, 2 threads, 2 users", browser_login, [alice, adam]),
            ("password grant, 1 thread", password_grant, [alice]),
            ("password grant, 2 threads, same user", password_grant, [alice, alice]),
        ]
        rows = []
        for label, login, users in cases:
            progress(label)
            rows.append((label, *run_case(deployment, login, users)))
        errors = Counter(
            str(event.get("error"))
            for event in deployment.admin().get_events({"type": "LOGIN_ERROR", "max": 10000})
        )
    cpus = os.cpu_count() or 1
    print(f"{'case':40} {'logins/s':>8} {'per vCPU':>8} {'ok':>6} {'refused':>7}")
    for label, rate, ok, refused in rows:
        print(f"{label:40} {rate:8.1f} {rate / cpus:8.1f} {ok:6} {refused:7}")
    print(f"Keycloak's sizing guide: 15 password logins/s per vCPU; this machine: {cpus} vCPUs")
    print(f"Keycloak LOGIN_ERROR events by error: {dict(errors) or 'none'}")


if __name__ == "__main__":
    main()
