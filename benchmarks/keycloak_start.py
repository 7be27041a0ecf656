"""Keycloak's start on the image the stack derives, against the base image as the stack used to
run it, measured in one run and printed as a ratio (not a test).

The stack derives its Keycloak image from the configured one (images/keycloak-optimized:
`kc.sh build` with exactly BUILD_OPTIONS) and starts it with `start --optimized`. Before, it
ran the configured image with plain `start` and the build options in the env; an image not
built with exactly those (the official one) then re-augmented Quarkus at every start.

The derived image is built first, as the stack builds it (the same Dockerfile and build args,
without the build cache: the one-time cost is printed). Then, on the same Postgres database,
its schema made by a first start that is not counted (as when a container restarts or is
replaced), Keycloak is started three ways:
  1. the derived image, `start --optimized`;
  2. the base image, plain `start` with BUILD_OPTIONS in the env (the stack's former way);
  3. as 1 again, so the first start's page-cache warm-up does not flatter the ratio.
Time to ready is measured from `docker run` to the first 200 of /health/ready.

Run:  .venv/bin/python -m benchmarks.keycloak_start [--base-image IMAGE | --defaults-of IMAGE]
      (Docker and toolchain/images.sh done; alone on the machine)
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from benchmarks.cli import arguments, emit, human_output
from components.docker.keycloak_server import BUILD_CONTEXT, BUILD_OPTIONS, optimized_build_args
from components.keycloak_app import MANAGEMENT_PORT
from stackrules.versions import pin

NAME = "mks-bench-keycloak"
NETWORK = f"{NAME}-net"
DERIVED_IMAGE = f"{NAME}-optimized:bench"
DEFAULTS_IMAGE = f"{NAME}-defaults:bench"
HOST_PORT = 29000
# What Keycloak logs when it re-augments Quarkus at a start.
REBUILT_MARKERS = ("optimized build will be overridden", "augmentation completed")


@dataclass(frozen=True)
class Start:
    """One way of starting Keycloak: an image, kc.sh's arguments, envs beyond the common ones."""

    image: str
    command: tuple[str, ...]
    envs: dict[str, str] = field(default_factory=dict)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def build_derived_image(base_image: str) -> float:
    """Seconds to build the derived image from base_image without the build cache."""
    build_args = [f"--build-arg={k}={v}" for k, v in optimized_build_args(base_image).items()]
    started = time.monotonic()
    docker_build("--no-cache", *build_args, "-t", DERIVED_IMAGE, str(BUILD_CONTEXT))
    return time.monotonic() - started


def docker_build(*args: str, dockerfile: str | None = None) -> None:
    """`docker build ARGS`; with `dockerfile`, that text is the Dockerfile (no context)."""
    subprocess.run(
        ["docker", "build", *args],
        input=dockerfile,
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,  # a failure says why on stderr
        # The Docker CLI refuses BuildKit without the buildx plugin, which Debian's docker.io
        # lacks (as in toolchain/images.sh): the legacy builder runs the same Dockerfile.
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


def ready_seconds(start: Start, password: str, database: str) -> tuple[float, bool]:
    """Seconds to ready, and whether Keycloak said it re-augmented."""
    envs = {
        "KC_DB_URL": f"jdbc:postgresql://{NAME}-db:5432/{database}",
        "KC_DB_USERNAME": "postgres",
        "KC_DB_PASSWORD": password,
        "KC_HOSTNAME": "http://localhost:8080",
        "KC_HTTP_ENABLED": "true",
        "KC_CACHE": "local",
        **start.envs,
    }
    started = time.monotonic()
    docker(
        "run", "-d", "--name", NAME, "--network", NETWORK,
        "-p", f"127.0.0.1:{HOST_PORT}:{MANAGEMENT_PORT}",
        *(f"--env={k}={v}" for k, v in envs.items()),
        start.image, *start.command,
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
        rebuilt = any(marker in logs.stdout + logs.stderr for marker in REBUILT_MARKERS)
        return seconds, rebuilt
    finally:
        docker("rm", "-f", NAME)


def options_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-image",
        default=pin("KEYCLOAK_IMAGE"),
        help="the image to derive from and to compare with (default: KEYCLOAK_IMAGE, the "
        "official image, which must be on this host or pullable; LOCAL_KEYCLOAK_IMAGE is "
        "pre-built with BUILD_OPTIONS already, so on it both ways should take about as long)",
    )
    parser.add_argument(
        "--defaults-of",
        metavar="IMAGE",
        help="compare with IMAGE rebuilt with Keycloak's default build options (`kc.sh build` "
        "without flags): the state the official image ships in, for a host that cannot pull "
        "it (e.g. LOCAL_KEYCLOAK_IMAGE)",
    )


def main() -> None:
    options = arguments(__doc__, options_of)
    with human_output(options):
        result = measure(options)
    emit(options, result)


def measure(options: argparse.Namespace) -> dict[str, object]:
    base = options.base_image
    if options.defaults_of:
        progress(f"rebuilding {options.defaults_of} with Keycloak's default build options")
        base = DEFAULTS_IMAGE
        dockerfile = f"FROM {options.defaults_of}\nRUN /opt/keycloak/bin/kc.sh build\n"
        docker_build("-t", base, "-", dockerfile=dockerfile)
    password = secrets.token_urlsafe(16)
    progress(f"building the derived image from {base} (no build cache)")
    build = build_derived_image(base)
    optimized = Start(DERIVED_IMAGE, ("start", "--optimized"))
    plain = Start(
        base,
        ("start",),
        {f"KC_{o.upper().replace('-', '_')}": v for o, v in BUILD_OPTIONS.items()},
    )
    runs = [
        ("derived, start --optimized", optimized),
        ("base, plain start", plain),
        ("derived, again", optimized),
    ]
    try:
        docker("network", "create", NETWORK)
        docker(
            "run", "-d", "--name", f"{NAME}-db", "--network", NETWORK,
            f"--env=POSTGRES_PASSWORD={password}", pin("LOCAL_POSTGRES_IMAGE"),
        )  # fmt: skip
        time.sleep(8)
        docker("exec", "-u", "postgres", f"{NAME}-db", "createdb", "keycloak")
        progress("Keycloak's first start: its schema (not counted)")
        ready_seconds(optimized, password, "keycloak")
        results = []
        for label, start in runs:
            progress(f"Keycloak start: {label}")
            seconds, rebuilt = ready_seconds(start, password, "keycloak")
            results.append((label, seconds, rebuilt))
        print(f"base image: {base}")
        print(f"derived image built in {build:5.1f} s (once per base image and build options)")
        for label, seconds, rebuilt in results:
            print(
                f"{label:28} ready in {seconds:5.1f} s  re-augmented: {'yes' if rebuilt else 'no'}"
            )
        optimized_seconds = min(results[0][1], results[2][1])
        print(f"derived, optimized / base, plain start: {optimized_seconds / results[1][1]:.2f}x")
        return {
            "baseImage": base,
            "derivedBuildSeconds": build,
            "starts": [{"way": label, "readySeconds": seconds, "reAugmented": rebuilt}
                       for label, seconds, rebuilt in results],
            "optimizedVsPlain": optimized_seconds / results[1][1],
        }  # fmt: skip
    finally:
        # -v: with the database's anonymous volume.
        subprocess.run(["docker", "rm", "-f", "-v", f"{NAME}-db"], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)
        subprocess.run(
            ["docker", "rmi", DERIVED_IMAGE, DEFAULTS_IMAGE], capture_output=True, check=False
        )


if __name__ == "__main__":
    main()
