"""Upgrading the services in place, and rolling back with the backup: a stack brought up at the
previous release's pins (PREVIOUS_* in versions.env: Keycloak, MLflow and mlflow-oidc-auth),
data written and backed up; then the current pins and `pulumi up`, which replaces containers
and images only, and every experiment, run, metric, artifact, permission, user, group and
session setting is still there, and a user signed in before the upgrade stays signed in (her
refresh token still works). Rolling back is docs/operations.md's recipe: previous pins, `pulumi
destroy`, `pulumi up`, `stackctl restore` of the backup taken before the upgrade."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from stackrules.names import resource_prefix
from stackrules.versions import pinned_versions
from tests.e2e.team_data import (
    assert_permissions_and_identities_are_there,
    assert_tracking_data_is_there,
    write_data,
)
from tests.e2e.upgrades import dropped_data, dropping_steps
from tests.support.deployment import (
    POLICY_CONFIG,
    Deployment,
    docker,
    e2e_config,
    log,
    remove_leftovers,
)

STACK = "pins"
PREFIX = resource_prefix(STACK)
PORTS = {"keycloakPort": 18085, "mlflowPort": 15005, "mlflowDbPort": 25442, "keycloakDbPort": 25443}
PINS = pinned_versions()
PREVIOUS = {
    "keycloak": PINS["PREVIOUS_KEYCLOAK_VERSION"],
    "mlflow": PINS["PREVIOUS_MLFLOW_VERSION"],
    "mlflow-oidc-auth": PINS["PREVIOUS_MLFLOW_OIDC_AUTH_VERSION"],
}
CURRENT = {
    "keycloak": PINS["KEYCLOAK_VERSION"],
    "mlflow": PINS["MLFLOW_VERSION"],
    "mlflow-oidc-auth": PINS["MLFLOW_OIDC_AUTH_VERSION"],
}
# What the upgrade may replace: the images and the stateless containers running them.
REPLACEABLE_TYPES = {
    "docker:index/container:Container",
    "docker:index/image:Image",
    "docker:index/remoteImage:RemoteImage",
}


def use_previous_pins(stack: Deployment) -> None:
    stack.set_config("keycloakImage", PINS["LOCAL_PREVIOUS_KEYCLOAK_IMAGE"])
    stack.set_config("mlflowImage", PINS["LOCAL_PREVIOUS_MLFLOW_IMAGE"])


def use_current_pins(stack: Deployment) -> None:
    stack.set_config("keycloakImage", PINS["LOCAL_KEYCLOAK_IMAGE"])
    stack.stack.remove_config("mlflowImage")  # the stack builds images/mlflow at the pins


def running_versions(stack: Deployment) -> dict[str, str]:
    """What the containers run, asked of the services themselves."""
    packages = docker(
        "exec",
        f"{PREFIX}-mlflow",
        "python",
        "-c",
        "from importlib.metadata import version as v; print(v('mlflow'), v('mlflow-oidc-auth'))",
    ).split()
    server = stack.admin().get_server_info()
    return {
        "keycloak": str(server["systemInfo"]["version"]),
        "mlflow": packages[0],
        "mlflow-oidc-auth": packages[1],
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[Deployment]:
    remove_leftovers(log, PREFIX)
    config = {
        **e2e_config(),
        **PORTS,
        "keycloakImage": PINS["LOCAL_PREVIOUS_KEYCLOAK_IMAGE"],
        "mlflowImage": PINS["LOCAL_PREVIOUS_MLFLOW_IMAGE"],
    }
    with tempfile.TemporaryDirectory() as scratch:
        deployed = Deployment.create(Path(scratch), log, STACK, config)
        try:
            yield deployed
        finally:
            deployed.destroy(log)


@pytest.fixture(scope="module")
def before(stack: Deployment) -> Iterator[dict[str, Any]]:
    """At the previous pins: what runs, the data written, alice signed in, a backup."""
    with tempfile.TemporaryDirectory() as parent:
        versions = running_versions(stack)
        written = write_data(stack)
        signed_in = stack.oidc().token("alice", written["alice_password"])
        backup = Path(parent) / "backup"
        result = stack.stackctl("backup", "--to", str(backup))
        assert result.exit_code == 0, result.output
        yield {"versions": versions, "written": written, "tokens": signed_in, "backup": backup}


@pytest.fixture(scope="module")
def upgraded(stack: Deployment, before: dict[str, Any]) -> dict[str, Any]:
    """The current pins, previewed and applied with `pulumi up`."""
    use_current_pins(stack)
    previewed: list[auto.EngineEvent] = []
    stack.preview(log, on_event=previewed.append)
    applied: list[auto.EngineEvent] = []
    started = time.monotonic()
    result = stack.stack.up(on_output=log, on_event=applied.append, color="never")
    seconds = time.monotonic() - started
    stack.reload_outputs()
    log(f"upgrade in place: {result.summary.resource_changes} in {seconds:.1f}s")
    return {
        "planned": dropping_steps(previewed),
        "done": dropping_steps(applied),
        "seconds": seconds,
        "versions": running_versions(stack),
    }


def test_the_stack_starts_at_the_previous_pins(before: dict[str, Any]) -> None:
    assert before["versions"] == PREVIOUS
    assert PREVIOUS != CURRENT


def test_the_upgrade_replaces_images_and_containers_only_and_runs_the_current_pins(
    upgraded: dict[str, Any],
) -> None:
    assert dropped_data(upgraded["planned"]) == []
    assert dropped_data(upgraded["done"]) == []
    others = sorted({urn for _, kind, urn in upgraded["done"] if kind not in REPLACEABLE_TYPES})
    assert others == [], "only images and containers may be replaced"
    assert upgraded["versions"] == CURRENT


def test_after_the_upgrade_every_run_permission_user_and_setting_is_there(
    stack: Deployment, before: dict[str, Any], upgraded: dict[str, Any]
) -> None:
    assert_tracking_data_is_there(stack, before["written"])
    assert_permissions_and_identities_are_there(stack, before["written"])


def test_a_user_signed_in_before_the_upgrade_stays_signed_in(
    stack: Deployment, before: dict[str, Any], upgraded: dict[str, Any]
) -> None:
    refreshed = stack.oidc().refresh_token(before["tokens"]["refresh_token"])
    with stack.mlflow(refreshed["access_token"]) as mlflow:
        found = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name",
            params={"experiment_name": before["written"]["name"]},
        )
        assert found.status_code == 200, found.text


def test_a_second_up_after_the_upgrade_changes_nothing(
    stack: Deployment, upgraded: dict[str, Any]
) -> None:
    preview = stack.preview(log)
    changes = {op: n for op, n in preview.change_summary.items() if op != "same" and n}
    assert changes == {}


def test_rolling_back_is_previous_pins_destroy_up_and_restore_of_the_backup(
    stack: Deployment, before: dict[str, Any], upgraded: dict[str, Any]
) -> None:
    use_previous_pins(stack)
    stack.destroy(log)
    stack.destroyed = False
    stack.up(log)
    result = stack.stackctl(
        "restore", "--from", str(before["backup"]), "--policy-config", POLICY_CONFIG, "--yes"
    )
    assert result.exit_code == 0, result.output
    stack.reload_outputs()
    stack.test_passwords.clear()
    assert running_versions(stack) == PREVIOUS
    assert_tracking_data_is_there(stack, before["written"])
    assert_permissions_and_identities_are_there(stack, before["written"])
