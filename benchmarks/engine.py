"""The real engine's costs, measured in one run and printed as ratios (not a test).

  1. cold `up` (MLflow's image not built yet) against the critical path of readiness read from
     Docker's own events: Postgres healthy -> Keycloak healthy -> realm objects -> MLflow healthy;
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
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pulumi import automation as auto

from tests.e2e.deployment import PREFIX, Deployment, docker, remove_leftovers
from tests.workdir import REPO

MLFLOW_IMAGE_REPOSITORY = "mlflow-keycloak-stack/mlflow"
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
    def between(cls, since: float, until: float) -> Timeline:
        lines = docker(
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{until:.3f}",
            "--filter",
            "type=container",
            "--format",
            "{{json .}}",
        ).splitlines()
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

    def realm_gap(self) -> float:
        """Keycloak healthy -> MLflow started: the realm's objects (and MLflow's image, when
        its build, which starts with the update, is not done by then)."""
        return max(self.started["mlflow"] - self.healthy["keycloak"], 0.0)

    def critical_path(self) -> float:
        """Each step of the chain waits for the one before: the sum of readiness waits and
        the gap between Keycloak healthy and MLflow's start."""
        postgres = max(self.readiness("mlflow-db"), self.readiness("keycloak-db"))
        return postgres + self.readiness("keycloak") + self.realm_gap() + self.readiness("mlflow")


def timed_up(deployment: Deployment | None, workdir: Path) -> tuple[Deployment, float, Timeline]:
    since = time.time()
    started = time.monotonic()
    if deployment is None:
        deployment = Deployment.create(workdir, log)
    else:
        deployment.up(log)
        deployment.destroyed = False
    elapsed = time.monotonic() - started
    return deployment, elapsed, Timeline.between(since, time.time())


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


def drop_mlflow_image() -> None:
    """MLflow's image and the build cache behind it (pulumi-docker builds with BuildKit, whose
    cache outlives the image), so the cold `up` really builds it."""
    images = docker("images", "-q", MLFLOW_IMAGE_REPOSITORY).split()
    if images:
        docker("rmi", "-f", *set(images))
    docker("builder", "prune", "--all", "--force")


def main() -> None:
    remove_leftovers(progress)
    drop_mlflow_image()
    with tempfile.TemporaryDirectory() as scratch:
        progress("cold up (MLflow's image is built as part of it)")
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
    print("service readiness in the cold up (container start -> first healthy), s:")
    for service in CHAIN:
        print(f"  {service:<12} {cold_timeline.readiness(service):6.1f}")
    gap = cold_timeline.realm_gap()
    print(f"  Keycloak healthy -> MLflow started (realm objects, image) {gap:6.1f}")
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
