"""The real engine's costs, measured in one run and printed as ratios (not a test).

  1. cold `up` (neither MLflow's image nor Keycloak's derived one built yet) against the
     critical path of readiness read from Docker's own events: Postgres healthy -> Keycloak's
     image built -> Keycloak healthy -> realm objects -> MLflow healthy;
  2. a no-op `preview` of the stack against the `preview` of an empty program with the same
     SDKs and plugins (what the engine costs before the stack's own resources);
  3. `destroy`;
  4. `up` again with warm images, against the cold one;
  5. the compose peer (benchmarks/compose_peer.py) cold and warm, in the same run: our `up`
     as a ratio of theirs.
Each figure is printed beside its goal, and once more as one JSON line.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.engine
It deploys the e2e test stack (tests/support/deployment.py), so it must not run beside the suite.
"""

from __future__ import annotations

import json
import os
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

from benchmarks.cli import arguments, emit, human_output
from benchmarks.compose_peer import compose_peer, drop_peer_images
from components.docker.keycloak_server import IMAGE_REPOSITORY as KEYCLOAK_IMAGE_REPOSITORY
from components.docker.mlflow_server import IMAGE_REPOSITORY as MLFLOW_IMAGE_REPOSITORY
from tests.support.deployment import PREFIX, Deployment, docker, remove_leftovers
from tests.support.workdir import REPO

BUILT_IMAGE_REPOSITORIES = (MLFLOW_IMAGE_REPOSITORY, KEYCLOAK_IMAGE_REPOSITORY)


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


# Each step's limit on these 2-core machines (issue 26): what the step costs when nothing waits
# longer than it must. Cold: images dropped; warm: images present, a new stack.
STEP_LIMITS = {
    "postgres": 5.0,
    "keycloak_image": 17.0,
    "keycloak": 40.0,
    "mlflow": 18.0,
}
GOALS = {"cold": 120.0, "warm": 45.0, "noop_preview_ratio": 2.0, "destroy": 15.0, "peer": 1.2}


@dataclass
class Timeline:
    """Per container of the stack: when Docker started it and when it first reported healthy,
    in seconds since the `up` began; and when the `up` ended."""

    started: dict[str, float]
    healthy: dict[str, float]
    ended: float
    origin: float
    """When the `up` began (wall clock)."""

    @classmethod
    def of(cls, lines: list[str], began: float, ended: float) -> Timeline:
        """From `docker events --format '{{json .}}'` lines; `began`, `ended`: wall clock."""
        started: dict[str, float] = {}
        healthy: dict[str, float] = {}
        for line in lines:
            event = json.loads(line)
            name = str(event.get("Actor", {}).get("Attributes", {}).get("name", ""))
            if not name.startswith(f"{PREFIX}-"):
                continue
            service = name.removeprefix(f"{PREFIX}-")
            at = event["timeNano"] / 1e9 - began
            status = event.get("status") or event.get("Action", "")
            if status == "start":
                started[service] = at
            elif status == "health_status: healthy":
                healthy.setdefault(service, at)
        return cls(started, healthy, ended - began, began)

    def readiness(self, service: str) -> float:
        return self.healthy[service] - self.started[service]

    def steps(self) -> list[tuple[str, float, float | None]]:
        """(step, seconds, limit): the two branches that run side by side since MLflow no
        longer waits for Keycloak, then what follows both."""
        postgres = max(self.readiness("mlflow-db"), self.readiness("keycloak-db"))
        db_ready = max(self.healthy["mlflow-db"], self.healthy["keycloak-db"])
        both = max(self.healthy["keycloak"], self.healthy["mlflow"])
        return [
            ("Postgres: start -> healthy (the slower)", postgres, STEP_LIMITS["postgres"]),
            ("up began -> Postgres healthy", db_ready, None),
            (
                "Keycloak's image: Postgres healthy -> Keycloak started",
                max(self.started["keycloak"] - self.healthy["keycloak-db"], 0.0),
                STEP_LIMITS["keycloak_image"],
            ),
            ("Keycloak: start -> healthy", self.readiness("keycloak"), STEP_LIMITS["keycloak"]),
            ("MLflow's image: up began -> MLflow started", self.started["mlflow"], None),
            ("MLflow: start -> healthy", self.readiness("mlflow"), STEP_LIMITS["mlflow"]),
            ("Keycloak healthy at", self.healthy["keycloak"], None),
            ("MLflow healthy at", self.healthy["mlflow"], None),
            ("both healthy -> up done (realm objects, MLflow accounts)", self.ended - both, None),
        ]

    def critical_path(self) -> float:
        """The readiness chain alone: the slower branch (Postgres, Keycloak's image and start;
        or MLflow's image and start) from the first container's start."""
        first = min(self.started.values())
        return max(self.healthy["keycloak"], self.healthy["mlflow"]) - first

    def print_steps(self, label: str) -> None:
        print(f"the chain in the {label}, s (limit):")
        for step, seconds, limit in self.steps():
            bound = f"  (<= {limit:.0f})" if limit is not None else ""
            print(f"  {step:<58} {seconds:6.1f}{bound}")


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


class Operations:
    """When each resource operation of one engine run began and ended (wall clock), from the
    engine's own event stream (its step started -> its outputs or its failure), to name the slow
    steps and what runs after the services are ready."""

    def __init__(self) -> None:
        self.began: dict[str, float] = {}
        self.ended: dict[str, float] = {}

    def __call__(self, event: auto.EngineEvent) -> None:
        now = time.time()
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            self.began[f"{meta.op.value} {meta.urn.split('::')[-1]}"] = now
        done = event.res_outputs_event or event.res_op_failed_event
        if done is not None:
            meta = done.metadata
            key = f"{meta.op.value} {meta.urn.split('::')[-1]}"
            if key in self.began:
                self.ended[key] = now

    def took(self) -> dict[str, float]:
        return {key: self.ended[key] - self.began[key] for key in self.ended}

    def print_slowest(self, label: str, count: int = 8) -> None:
        print(f"the slowest resource operations of the {label}, s:")
        for key, seconds in sorted(self.took().items(), key=lambda item: -item[1])[:count]:
            print(f"  {key:<58} {seconds:6.1f}")

    def print_after(self, label: str, since: float, count: int = 12) -> None:
        """The operations that ended after `since` (seconds into the run whose wall-clock
        start is the earliest operation's), in the order they ended, with their span."""
        origin = min(self.began.values(), default=0.0)
        late = sorted(
            (end - origin, key) for key, end in self.ended.items() if end - origin > since
        )
        print(f"what ended after {since:.1f} s in the {label} (began -> ended, s):")
        for end, key in late[-count:]:
            print(f"  {key:<58} {self.began[key] - origin:6.1f} -> {end:6.1f}")


def timed_up(deployment: Deployment, operations: Operations) -> tuple[float, Timeline]:
    """`up` alone (the stack and its config exist already)."""
    with recorded_events() as events:
        began, started = time.time(), time.monotonic()
        deployment.up(log, on_event=operations)
        deployment.destroyed = False
        elapsed = time.monotonic() - started
        ended = time.time()
    return elapsed, Timeline.of(events, began, ended)


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


def peer_ups() -> tuple[float, float]:
    """The compose peer's cold `up` (its built images dropped) and warm one (a new project on
    the images the cold one built)."""
    drop_peer_images()
    docker("builder", "prune", "--all", "--force")
    with compose_peer() as peer:
        progress("compose peer: cold up (its MLflow and Keycloak images built as part of it)")
        cold = peer.up()
        peer.down()
        progress("compose peer: warm up")
        warm = peer.up()
    return cold, warm


def line(name: str, value: float, unit: str, goal: float | None = None) -> str:
    if goal is None:
        return f"{name:<34} {value:7.2f}{unit}"
    met = "met" if value <= goal else "NOT met"
    return f"{name:<34} {value:7.2f}{unit}   goal <= {goal:g}{unit}: {met}"


def main() -> None:
    options = arguments(__doc__)
    with human_output(options):
        record = measure()
    emit(options, record)


def measure() -> dict[str, object]:
    remove_leftovers(progress)
    drop_built_images()
    with tempfile.TemporaryDirectory() as scratch:
        progress("cold up (the MLflow and Keycloak images are built as part of it)")
        cold_ops, warm_ops, destroy_ops = Operations(), Operations(), Operations()
        deployment = Deployment.create(Path(scratch), log, deploy=False)
        cold, cold_timeline = timed_up(deployment, cold_ops)
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
            deployment.destroy(log, on_event=destroy_ops)
            destroy = time.monotonic() - started
            progress("up again with warm images")
            warm, warm_timeline = timed_up(deployment, warm_ops)
        finally:
            if not deployment.destroyed:
                deployment.destroy(log)
    cold_timeline.print_steps("cold up")
    cold_ops.print_slowest("cold up")
    warm_timeline.print_steps("warm up")
    warm_ops.print_slowest("warm up")
    warm_ops.print_after(
        "warm up", max(warm_timeline.healthy["keycloak"], warm_timeline.healthy["mlflow"])
    )
    destroy_ops.print_slowest("destroy")
    results = {
        "cold up": (cold, "s", GOALS["cold"]),
        "cold critical path of readiness": (cold_timeline.critical_path(), "s", None),
        "warm up": (warm, "s", GOALS["warm"]),
        "warm critical path of readiness": (warm_timeline.critical_path(), "s", None),
        "no-op preview": (noop_preview, "s", None),
        "empty program preview": (empty, "s", None),
        "no-op preview / empty": (noop_preview / empty, "x", GOALS["noop_preview_ratio"]),
        "destroy": (destroy, "s", GOALS["destroy"]),
    }
    for name, (value, unit, goal) in results.items():
        print(line(name, value, unit, goal), flush=True)  # kept if the peer fails
    peer_cold, peer_warm = peer_ups()
    peer = {
        "compose peer cold up": (peer_cold, "s", None),
        "compose peer warm up": (peer_warm, "s", None),
        "cold up / compose peer cold": (cold / peer_cold, "x", GOALS["peer"]),
        "warm up / compose peer warm": (warm / peer_warm, "x", GOALS["peer"]),
    }
    for name, (value, unit, goal) in peer.items():
        print(line(name, value, unit, goal))
    results.update(peer)
    measured = datetime.now().isoformat(timespec="seconds")
    print(f"(measured {measured} on {os.cpu_count()} cores)")
    record = {name: round(value, 2) for name, (value, _, _) in results.items()}
    print("json: " + json.dumps({"measured": measured, "cores": os.cpu_count(), **record}))
    return {"measured": measured, "cores": os.cpu_count(), **record}


if __name__ == "__main__":
    main()
