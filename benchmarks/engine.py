"""The real engine's costs, measured in one run and printed as ratios (not a test).

  1. cold `up` (neither MLflow's image nor Keycloak's derived one built yet) against the
     critical path of readiness read from Docker's own events: Postgres healthy -> Keycloak's
     image built -> Keycloak healthy -> realm objects -> MLflow healthy;
  2. a no-op `preview` of the stack against the `preview` of an empty program with the same
     SDKs and plugins (what the engine costs before the stack's own resources);
  3. `destroy`;
  4. `up` again with warm images, against the cold one.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.engine
It deploys the e2e test stack (tests/e2e/deployment.py), so it must not run beside the suite.
"""

from __future__ import annotations

import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pulumi import automation as auto

from components.keycloak_server import IMAGE_REPOSITORY as KEYCLOAK_IMAGE_REPOSITORY
from components.mlflow_server import IMAGE_REPOSITORY as MLFLOW_IMAGE_REPOSITORY
from tests.e2e.deployment import PREFIX, Deployment, docker, remove_leftovers
from tests.workdir import REPO

BUILT_IMAGE_REPOSITORIES = (MLFLOW_IMAGE_REPOSITORY, KEYCLOAK_IMAGE_REPOSITORY)
CHAIN = ("mlflow-db", "keycloak-db", "keycloak", "mlflow")


def log(line: str) -> None:
    """Engine output stays quiet; only our progress lines are shown."""


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method); NaN when there is nothing to measure."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


@contextmanager
def deployed_e2e_stack() -> Iterator[tuple[Deployment, Path]]:
    """The e2e test stack, brought up in a scratch directory and destroyed after the block;
    what an earlier, killed run left of it is removed first."""
    remove_leftovers(progress, PREFIX)
    with tempfile.TemporaryDirectory() as scratch:
        progress("deploying the e2e stack")
        deployment = Deployment.create(Path(scratch), log)
        try:
            yield deployment, Path(scratch)
        finally:
            deployment.destroy(log)


@dataclass
class Timeline:
    """Per container of the stack: when Docker started it and when it first reported healthy."""

    started: dict[str, float]
    healthy: dict[str, float]

    @classmethod
    def of(cls, lines: list[str]) -> Timeline:
        """From `docker events --format '{{json .}}'` lines."""
        started: dict[str, float] = {}
        healthy: dict[str, float] = {}
        for line in lines:
            event = json.loads(line)
            name = str(event.get("Actor", {}).get("Attributes", {}).get("name", ""))
            if not name.startswith(f"{PREFIX}-"):
                continue
            service = name.removeprefix(f"{PREFIX}-")
            at = event["timeNano"] / 1e9
            status = event.get("status") or event.get("Action", "")
            if status == "start":
                started[service] = at
            elif status == "health_status: healthy":
                healthy.setdefault(service, at)
        return cls(started, healthy)

    def readiness(self, service: str) -> float:
        return self.healthy[service] - self.started[service]

    def keycloak_gap(self) -> float:
        """Keycloak's Postgres healthy -> Keycloak started: the rest of its image's build
        (`kc.sh build` of the derived image, which starts with the update)."""
        return max(self.started["keycloak"] - self.healthy["keycloak-db"], 0.0)

    def realm_gap(self) -> float:
        """Keycloak healthy -> MLflow started: the realm's objects (and MLflow's image, when
        its build, which starts with the update, is not done by then)."""
        return max(self.started["mlflow"] - self.healthy["keycloak"], 0.0)

    def critical_path(self) -> float:
        """Each step of the chain waits for the one before: the sum of readiness waits and
        the gaps before Keycloak's and MLflow's starts."""
        postgres = max(self.readiness("mlflow-db"), self.readiness("keycloak-db"))
        return (
            postgres
            + self.keycloak_gap()
            + self.readiness("keycloak")
            + self.realm_gap()
            + self.readiness("mlflow")
        )

    def print_steps(self, label: str) -> None:
        print(f"the chain in the {label} (container start -> first healthy, and the gaps), s:")
        for service in CHAIN:
            print(f"  {service:<12} {self.readiness(service):6.1f}")
            if service == "keycloak-db":
                print(f"  Postgres healthy -> Keycloak started (its image)          "
                      f"{self.keycloak_gap():6.1f}")  # fmt: skip
            if service == "keycloak":
                print(f"  Keycloak healthy -> MLflow started (realm objects, image) "
                      f"{self.realm_gap():6.1f}")  # fmt: skip


@contextmanager
def recorded_events() -> Iterator[list[str]]:
    """Docker's container events while the block runs, read as they happen: the daemon keeps
    only its last 256 events, and the health checks' exec events push a cold up's first ones
    out within a minute or two. The list is filled when the block ends."""
    lines: list[str] = []
    with tempfile.TemporaryFile("w+") as sink:
        command = ["docker", "events", "--filter", "type=container", "--format", "{{json .}}"]
        events = subprocess.Popen(command, stdout=sink, text=True)
        try:
            yield lines
            time.sleep(1)  # the last health event reaches the stream
        finally:
            events.terminate()
            events.wait()
            sink.seek(0)
            lines.extend(sink.read().splitlines())


def timed_up(deployment: Deployment | None, workdir: Path) -> tuple[Deployment, float, Timeline]:
    with recorded_events() as events:
        started = time.monotonic()
        if deployment is None:
            deployment = Deployment.create(workdir, log)
        else:
            deployment.up(log)
            deployment.destroyed = False
        elapsed = time.monotonic() - started
    return deployment, elapsed, Timeline.of(events)


def empty_program_preview(env: dict[str, str]) -> float:
    """`pulumi preview` of a program that imports the stack's SDKs and declares nothing."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "Pulumi.yaml").write_text(
            "name: empty-benchmark\nruntime:\n  name: python\n"
            "  options:\n    toolchain: pip\n    virtualenv: .venv\n"
        )
        (work / "__main__.py").write_text(
            "import pulumi_docker, pulumi_keycloak, pulumi_postgresql, pulumi_random  # noqa\n"
        )
        (work / ".venv").symlink_to(REPO / ".venv")
        (work / "state").mkdir()
        env = {**env, "PULUMI_BACKEND_URL": f"file://{work / 'state'}"}
        options = auto.LocalWorkspaceOptions(work_dir=str(work), env_vars=env)
        stack = auto.create_stack("empty", work_dir=str(work), opts=options)
        stack.preview(on_output=log)  # first run warms the host and the file backend
        started = time.monotonic()
        stack.preview(on_output=log)
        return time.monotonic() - started


def drop_built_images() -> None:
    """The images the stack builds (MLflow's, Keycloak's derived one) and the build cache behind
    them (pulumi-docker builds with BuildKit, whose cache outlives the image), so the cold `up`
    really builds them."""
    for repository in BUILT_IMAGE_REPOSITORIES:
        images = docker("images", "-q", repository).split()
        if images:
            docker("rmi", "-f", *set(images))
    docker("builder", "prune", "--all", "--force")


def main() -> None:
    remove_leftovers(progress)
    drop_built_images()
    with tempfile.TemporaryDirectory() as scratch:
        progress("cold up (the MLflow and Keycloak images are built as part of it)")
        deployment, cold, cold_timeline = timed_up(None, Path(scratch))
        try:
            progress("no-op preview of the stack, then of an empty program")
            deployment.preview(log)  # warm
            started = time.monotonic()
            deployment.preview(log, expect_no_changes=True)
            noop_preview = time.monotonic() - started
            empty = empty_program_preview(
                {
                    "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
                    "PULUMI_SKIP_UPDATE_CHECK": "true",
                }
            )
            progress("destroy")
            started = time.monotonic()
            deployment.destroy(log)
            destroy = time.monotonic() - started
            progress("up again with warm images")
            deployment, warm, warm_timeline = timed_up(deployment, Path(scratch))
        finally:
            if not deployment.destroyed:
                deployment.destroy(log)

    path = cold_timeline.critical_path()
    cold_timeline.print_steps("cold up")
    warm_timeline.print_steps("warm up")
    print(f"cold up:                         {cold:7.1f} s")
    print(f"critical path of readiness:      {path:7.1f} s")
    print(f"cold up / critical path:         {cold / path:7.2f}x")
    print(f"up with warm images:             {warm:7.1f} s")
    print(f"  / its critical path:           {warm / warm_timeline.critical_path():7.2f}x")
    print(f"cold up / warm up:               {cold / warm:7.2f}x")
    print(f"no-op preview of the stack:      {noop_preview:7.1f} s")
    print(f"preview of an empty program:     {empty:7.1f} s")
    print(f"no-op preview / empty preview:   {noop_preview / empty:7.2f}x")
    print(f"destroy:                         {destroy:7.1f} s")
    print(f"destroy / warm up:               {destroy / warm:7.2f}x")
    print(f"(measured {datetime.now().isoformat(timespec='seconds')})")


if __name__ == "__main__":
    main()
