"""Nothing lost: data in, `stackctl backup`, `pulumi destroy`, `pulumi up` (new volumes, same
config), `stackctl restore`; every experiment, run, metric, artifact, MLflow permission,
Keycloak user, group and session setting is back, people sign in with their changed
passwords, and `pulumi up --refresh` finds nothing to change. A damaged or incomplete backup,
and a restore over a stack holding data, are refused before anything changes."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from stackrules.names import resource_prefix
from tests.e2e.team_data import (
    assert_permissions_and_identities_are_there,
    assert_tracking_data_is_there,
    write_data,
)
from tests.support.deployment import (
    POLICY_CONFIG,
    Deployment,
    docker,
    e2e_config,
    log,
    remove_leftovers,
)

STACK = "restore"
PORTS = {"keycloakPort": 18082, "mlflowPort": 15002, "mlflowDbPort": 25436, "keycloakDbPort": 25437}


@pytest.fixture(scope="module")
def stack() -> Iterator[Deployment]:
    remove_leftovers(log, resource_prefix(STACK))
    with tempfile.TemporaryDirectory() as scratch:
        deployed = Deployment.create(Path(scratch), log, STACK, {**e2e_config(), **PORTS})
        try:
            yield deployed
        finally:
            deployed.destroy(log)


@pytest.fixture(scope="module")
def written(stack: Deployment) -> dict[str, Any]:
    return write_data(stack)


@pytest.fixture(scope="module")
def backup_dir(stack: Deployment, written: dict[str, Any]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as parent:
        target = Path(parent) / "backup"
        result = stack.stackctl("backup", "--to", str(target))
        assert result.exit_code == 0, result.output
        yield target


def test_a_backup_is_readable_by_its_owner_alone_with_every_part_checksummed(
    backup_dir: Path,
) -> None:
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    parts = {(p["kind"], p["database"]) for p in manifest["parts"]}
    assert parts == {
        ("identities", None),
        ("artifacts", None),
        ("database", "mlflow"),
        ("database", "mlflow_auth"),
        ("database", "keycloak"),
    }
    for file in backup_dir.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    assert all(p["bytes"] > 0 and len(p["sha256"]) == 64 for p in manifest["parts"])


def damaged_copy(backup_dir: Path, scratch: Path, damage: str) -> Path:
    copy = scratch / damage
    shutil.copytree(backup_dir, copy)
    if damage == "truncated":
        dump = copy / "keycloak.sql"
        dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    elif damage == "no-manifest":
        (copy / "manifest.json").unlink()
    elif damage == "part-missing":
        (copy / "artifacts.tar").unlink()
    return copy


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("truncated", "keycloak.sql has"),
        ("no-manifest", "holds no manifest.json"),
        ("part-missing", "artifacts.tar is missing"),
    ],
)
def test_a_damaged_or_incomplete_backup_is_refused_before_anything_changes(
    stack: Deployment, written: dict[str, Any], backup_dir: Path, damage: str, said: str
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = damaged_copy(backup_dir, Path(scratch), damage)
        result = stack.stackctl("restore", "--from", str(copy), "--overwrite", "--yes")
    assert result.exit_code == 1
    assert said in result.output and "nothing was changed" in result.output.replace("\n", " ")
    token = stack.user_tokens("alice")["access_token"]
    with stack.mlflow(token) as mlflow:
        kept = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": written["run_id"]})
        assert kept.status_code == 200, "the refused restore must leave the stack serving"


def test_restoring_over_a_stack_that_holds_data_needs_overwrite(
    stack: Deployment, backup_dir: Path
) -> None:
    result = stack.stackctl("restore", "--from", str(backup_dir), "--yes")
    assert result.exit_code == 1
    assert "already holds 1 experiment(s) and 1 run(s)" in result.output.replace("\n", " ")


def test_a_restore_that_fails_part_way_leaves_the_services_stopped_until_it_succeeds(
    stack: Deployment, written: dict[str, Any], backup_dir: Path
) -> None:
    """Keycloak's dump fails in psql after MLflow's two databases were replaced (its manifest
    checksum made to match, as a tampered backup's can be): Keycloak and MLflow stay stopped
    rather than serve a mix of the backup's data and the stack's. A good restore then brings
    them back."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "failing"
        shutil.copytree(backup_dir, copy)
        dump = copy / "keycloak.sql"
        dump.write_bytes(dump.read_bytes() + b"\nSELECT 1 / 0;\n")
        manifest = json.loads((copy / "manifest.json").read_text())
        for part in manifest["parts"]:
            if part["file"] == dump.name:
                part.update(bytes=dump.stat().st_size, sha256=sha256(dump.read_bytes()).hexdigest())
        (copy / "manifest.json").write_text(json.dumps(manifest))
        failed = stack.stackctl("restore", "--from", str(copy), "--overwrite", "--yes")
    said = failed.output.replace("\n", " ")
    assert failed.exit_code == 1, failed.output
    assert "database mlflow: restored" in said and "division by zero" in said, said
    assert "are left stopped" in said, said
    services = stack.outputs["dataStores"]["services"]
    running = docker("inspect", "--format", "{{.State.Running}}", *services).split()
    assert running == ["false"] * len(services), (services, running)

    again = stack.stackctl(
        "restore", "--from", str(backup_dir), "--overwrite", "--policy-config", POLICY_CONFIG,
        "--yes",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    stack.test_passwords.clear()  # the restored Keycloak holds the backup's passwords
    token = stack.user_tokens("alice")["access_token"]
    with stack.mlflow(token) as mlflow:
        kept = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": written["run_id"]})
        assert kept.status_code == 200, kept.text


@pytest.fixture(scope="module")
def restored(stack: Deployment, written: dict[str, Any], backup_dir: Path) -> dict[str, float]:
    """The backed-up stack destroyed and created afresh (new volumes), then restored."""
    stack.destroy(log)
    stack.destroyed = False
    stack.up(log)
    stack.test_passwords.clear()  # the new Keycloak knows none of them
    token = stack.user_tokens("adam")["access_token"]
    with stack.mlflow(token) as mlflow:
        gone = mlflow.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": written["name"]}
        )
        assert gone.status_code == 404, "the new stack must start empty"
    started = time.monotonic()
    result = stack.stackctl(
        "restore", "--from", str(backup_dir), "--policy-config", POLICY_CONFIG, "--yes"
    )
    assert result.exit_code == 0, result.output
    assert "Policies:" in result.output, "the restore's up runs the policy pack"
    seconds = time.monotonic() - started
    stack.reload_outputs()
    stack.test_passwords.clear()  # set in the new stack's Keycloak, which the backup replaced
    return {"restore (s)": seconds}


def test_every_experiment_run_metric_and_artifact_is_back(
    stack: Deployment, written: dict[str, Any], restored: dict[str, float]
) -> None:
    assert_tracking_data_is_there(stack, written)


def test_mlflow_permissions_keycloak_users_groups_and_session_settings_are_back(
    stack: Deployment, written: dict[str, Any], restored: dict[str, float]
) -> None:
    assert_permissions_and_identities_are_there(stack, written)


def test_after_a_restore_pulumi_up_refresh_finds_nothing_to_change(
    stack: Deployment, restored: dict[str, float]
) -> None:
    preview = stack.preview(log, refresh=True)
    changes = {op: n for op, n in preview.change_summary.items() if op != "same" and n}
    assert changes == {}, f"the restored stack's state and its services disagree: {changes}"
