"""Fixtures of the end-to-end suite: one real stack for the whole session, a real browser."""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from stackrules.versions import pinned_versions
from tests.e2e.lanes import LANES, lane_of, runs_last, wait_for_other_lane
from tests.e2e.tls_stack import tls_stack
from tests.support.deployment import (
    Deployment,
    container_logs,
    docker_inventory,
    log,
    remove_leftovers,
)
from tests.support.workdir import pulumi_cli_problem

CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium from reaching for the internet on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
MEASUREMENTS: dict[str, float] = {}
# Wall time per test file (its stack's up and destroy included), for the run's summary.
FILE_SECONDS: dict[str, float] = defaultdict(float)
WAITED: dict[str, float] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lane",
        choices=sorted(LANES),
        help="run one lane of tests/e2e/lanes.py (MKS_E2E_LANES=2 makes scripts/test.sh run both)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    lane = config.getoption("--lane")
    chosen: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        (chosen if lane in (None, lane_of(item.path.name)) else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # The quiet files last, each file's tests kept in their order.
    items[:] = sorted(chosen, key=lambda item: runs_last(item.path.name))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if runs_last(item.path.name) and "other lane" not in WAITED:
        WAITED["other lane"] = wait_for_other_lane(log)
        FILE_SECONDS[item.path.name] -= WAITED["other lane"]  # counted apart


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    started = time.monotonic()
    yield
    FILE_SECONDS[item.path.name] += time.monotonic() - started


def _require_toolchain() -> None:
    """A missing prerequisite is a loud failure, never a skip."""
    problems = []
    cli = pulumi_cli_problem()
    if cli is not None:
        problems.append(cli)
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        problems.append("the Docker engine does not answer `docker info`")
    if not (Path(__file__).resolve().parents[2] / "policy" / "venv").is_dir():
        problems.append("policy/venv is missing (scripts/toolchain.sh makes it)")
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    pins = pinned_versions()
    for key in sorted(k for k in pins if k.startswith("LOCAL_") and k.endswith("_IMAGE")):
        found = subprocess.run(["docker", "image", "inspect", pins[key]], capture_output=True)
        if found.returncode != 0:
            problems.append(f"image {pins[key]} ({key}) is missing (toolchain/images.sh builds it)")
    if problems:
        pytest.fail("end-to-end prerequisites missing: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def prerequisites() -> None:
    """Checked by each lane before its first test."""
    _require_toolchain()


@pytest.fixture(scope="session")
def docker_before(prerequisites: None) -> dict[str, set[str]]:
    remove_leftovers(log)
    return docker_inventory()


@pytest.fixture(scope="session")
def deployment(
    docker_before: dict[str, set[str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("stack")
    deployed: Deployment | None = None
    try:
        deployed = Deployment.create(workdir, log)
        yield deployed
    finally:
        if deployed is None:
            log(container_logs())
        elif not deployed.destroyed:
            deployed.destroy(log)
        if deployed is not None:
            MEASUREMENTS.update(deployed.timings)


@pytest.fixture(scope="session", name="tls_stack")
def tls_stack_fixture(prerequisites: None) -> Iterator[Deployment]:
    """The HTTPS stack test_13 and test_14 share (tests/e2e/tls_stack.py)."""
    with tls_stack() as deployed:
        yield deployed


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the session: its sync API may run only once per process."""
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def measurements() -> dict[str, float]:
    return MEASUREMENTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        report.sections.append(("container logs", container_logs()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FILE_SECONDS:
        terminalreporter.section("wall time per test file (setup, tests, teardown)")
        for name, seconds in sorted(FILE_SECONDS.items(), key=lambda row: -row[1]):
            terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
        if WAITED.get("other lane"):
            waited = WAITED["other lane"]
            terminalreporter.write_line(f"{waited:7.1f} s  waiting for the other lane to end")
    if MEASUREMENTS:
        terminalreporter.section("measured")
        for name, value in MEASUREMENTS.items():
            terminalreporter.write_line(f"{name}: {value:.1f}")
