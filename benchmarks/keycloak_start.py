"""Keycloak's start, measured in one run and printed as a ratio (not a test).

The same image (the local one, pre-built by `kc.sh build` with the stack's BUILD_OPTIONS) on
the same Postgres database, its schema made by a first start that is not counted (as when a
container restarts or is replaced), then started three ways:
  1. with exactly the build options it was built with: no re-augmentation;
  2. with one build option different (metrics-enabled=true): Quarkus re-augments first, which
     is what every start of the stack did while its metrics-enabled=false differed from the
     image's unset value;
  3. as 1 again, so the first start's page-cache warm-up does not flatter the ratio.
Time to ready is measured from `docker run` to the first 200 of /health/ready.

Run:  .venv/bin/python -m benchmarks.keycloak_start    (Docker and toolchain/images.sh done)
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

from components.keycloak_server import BUILD_OPTIONS, MANAGEMENT_PORT
from components.versions import pin

NAME = "mks-bench-keycloak"
NETWORK = f"{NAME}-net"
HOST_PORT = 29000


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def ready_seconds(options: dict[str, str], password: str, database: str) -> tuple[float, bool]:
    """Seconds to ready, and whether Keycloak said it re-augmented."""
    envs = {f"KC_{o.upper().replace('-', '_')}": v for o, v in options.items()}
    envs |= {
        "KC_DB_URL": f"jdbc:postgresql://{NAME}-db:5432/{database}",
        "KC_DB_USERNAME": "postgres",
        "KC_DB_PASSWORD": password,
        "KC_HOSTNAME": "http://localhost:8080",
        "KC_HTTP_ENABLED": "true",
        "KC_CACHE": "local",
    }
    started = time.monotonic()
    docker(
        "run", "-d", "--name", NAME, "--network", NETWORK,
        "-p", f"127.0.0.1:{HOST_PORT}:{MANAGEMENT_PORT}",
        *(f"--env={k}={v}" for k, v in envs.items()),
        pin("LOCAL_KEYCLOAK_IMAGE"), "start",
    )  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{HOST_PORT}/health/ready", timeout=2
                ) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() - started > 300:
                raise TimeoutError("Keycloak not ready within 300 s")
            time.sleep(0.25)
        seconds = time.monotonic() - started
        logs = subprocess.run(["docker", "logs", NAME], capture_output=True, text=True, check=False)
        rebuilt = "optimized build will be overridden" in logs.stdout + logs.stderr
        return seconds, rebuilt
    finally:
        docker("rm", "-f", NAME)


def main() -> None:
    password = secrets.token_urlsafe(16)
    docker("network", "create", NETWORK)
    try:
        docker(
            "run", "-d", "--name", f"{NAME}-db", "--network", NETWORK,
            f"--env=POSTGRES_PASSWORD={password}", pin("LOCAL_POSTGRES_IMAGE"),
        )  # fmt: skip
        time.sleep(8)
        differing = {**BUILD_OPTIONS, "metrics-enabled": "true"}
        runs = [("as built", BUILD_OPTIONS), ("one option differs", differing),
                ("as built, again", BUILD_OPTIONS)]  # fmt: skip
        docker("exec", "-u", "postgres", f"{NAME}-db", "createdb", "keycloak")
        progress("Keycloak's first start: its schema (not counted)")
        ready_seconds(BUILD_OPTIONS, password, "keycloak")
        results = []
        for label, options in runs:
            progress(f"Keycloak start: {label}")
            seconds, rebuilt = ready_seconds(options, password, "keycloak")
            results.append((label, seconds, rebuilt))
        for label, seconds, rebuilt in results:
            print(
                f"{label:22} ready in {seconds:5.1f} s  re-augmented: {'yes' if rebuilt else 'no'}"
            )
        matching = min(results[0][1], results[2][1])
        print(f"as built / one option differs: {matching / results[1][1]:.2f}x")
    finally:
        subprocess.run(["docker", "rm", "-f", f"{NAME}-db"], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)


if __name__ == "__main__":
    main()
