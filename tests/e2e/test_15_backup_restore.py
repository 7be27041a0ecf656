"""Nothing lost: data in, `stackctl backup`, `pulumi destroy`, `pulumi up` (new volumes, same
config), `stackctl restore`; every experiment, run, metric, artifact, MLflow permission,
Keycloak user, group and session setting is back, people sign in with their changed
passwords, and `pulumi up --refresh` finds nothing to change. A damaged or incomplete backup,
one changed without the backup key, and a restore over a stack holding data, are refused before
anything changes; and what the key's holder can put in a backup is data: a plain-SQL dump with
`\\!`, an archive whose rows call `COPY ... TO PROGRAM` and state with crafted pickled code
run nothing."""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from stackctl import backup as backups
from stackctl import backup_key
from stackctl.state_graft import DYNAMIC, PICKLED_CODE
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
def key_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as keys:
        yield Path(keys) / "backup-key"


@pytest.fixture(scope="module")
def key(key_file: Path, backup_dir: Path) -> backup_key.BackupKey:
    return backup_key.for_restore(key_file)


@pytest.fixture(scope="module")
def backup_dir(stack: Deployment, written: dict[str, Any], key_file: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as parent:
        target = Path(parent) / "backup"
        result = stack.stackctl("backup", "--to", str(target), "--key-file", str(key_file))
        assert result.exit_code == 0, result.output
        assert f"made the backup key {key_file}" in result.output.replace("\n", " ")
        yield target


def restore(stack: Deployment, source: Path, key_file: Path, *extra: str) -> Any:
    return stack.stackctl(
        "restore", "--from", str(source), "--key-file", str(key_file), "--yes", *extra
    )


def test_a_backup_is_readable_by_its_owner_alone_with_every_part_checksummed(
    backup_dir: Path, key_file: Path
) -> None:
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    manifest = json.loads((backup_dir / "manifest.json").read_text())["signed"]
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


def test_no_secret_is_in_the_backup_in_clear(
    stack: Deployment, backup_dir: Path, key: backup_key.BackupKey
) -> None:
    """MLflow's client secret is in the Keycloak state the backup carries (the test can fail):
    no file of the backup holds it, only the decrypted state."""
    secret = str(stack.outputs["clientSecret"]).encode()
    state = key.decrypt_bytes((backup_dir / backups.IDENTITIES).read_bytes())
    assert secret in state
    for file in backup_dir.iterdir():
        assert secret not in file.read_bytes(), file.name


def resigned(directory: Path, key: backup_key.BackupKey, replaced: dict[str, bytes]) -> None:
    """Parts replaced (already encrypted) and the manifest signed again, as the key's holder
    can: what remains to stop a crafted backup is what restore does with its content."""
    content = json.loads((directory / backups.MANIFEST).read_text())["signed"]
    for part in content["parts"]:
        if part["file"] in replaced:
            body = replaced[part["file"]]
            (directory / part["file"]).write_bytes(body)
            part.update(bytes=len(body), sha256=sha256(body).hexdigest())
    backups.write_manifest(directory, backups.Manifest.model_validate(content), key)


def damaged_copy(backup_dir: Path, scratch: Path, damage: str) -> Path:
    copy = scratch / damage
    shutil.copytree(backup_dir, copy)
    dump = copy / "keycloak.dump.age"
    if damage == "truncated":
        dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    elif damage == "no-manifest":
        (copy / "manifest.json").unlink()
    elif damage == "part-missing":
        (copy / "artifacts.tar.age").unlink()
    elif damage == "checksum-recomputed-without-the-key":
        # Another database's dump in its place, its size and SHA-256 written in the manifest.
        shutil.copyfile(copy / "mlflow.dump.age", dump)
        envelope = json.loads((copy / "manifest.json").read_text())
        for part in envelope["signed"]["parts"]:
            if part["file"] == dump.name:
                part.update(bytes=dump.stat().st_size, sha256=sha256(dump.read_bytes()).hexdigest())
        (copy / "manifest.json").write_text(json.dumps(envelope))
    return copy


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("truncated", "keycloak.dump.age has"),
        ("no-manifest", "holds no manifest.json"),
        ("part-missing", "artifacts.tar.age is missing"),
        ("checksum-recomputed-without-the-key", "is not signed by the backup key"),
    ],
)
def test_a_damaged_or_incomplete_backup_is_refused_before_anything_changes(
    stack: Deployment,
    written: dict[str, Any],
    backup_dir: Path,
    key_file: Path,
    damage: str,
    said: str,
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = damaged_copy(backup_dir, Path(scratch), damage)
        result = restore(stack, copy, key_file, "--overwrite")
    assert result.exit_code == 1
    assert said in result.output and "nothing was changed" in result.output.replace("\n", " ")
    token = stack.user_tokens("alice")["access_token"]
    with stack.mlflow(token) as mlflow:
        kept = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": written["run_id"]})
        assert kept.status_code == 200, "the refused restore must leave the stack serving"


def test_restore_without_the_key_changes_nothing(stack: Deployment, backup_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as keys:
        absent = Path(keys) / "backup-key"
        result = restore(stack, backup_dir, absent, "--overwrite")
    assert result.exit_code == 1
    assert f"no backup key at {absent}" in result.output.replace("\n", " ")


def test_restoring_over_a_stack_that_holds_data_needs_overwrite(
    stack: Deployment, backup_dir: Path, key_file: Path
) -> None:
    result = restore(stack, backup_dir, key_file)
    assert result.exit_code == 1
    assert "already holds 1 experiment(s) and 1 run(s)" in result.output.replace("\n", " ")


def keycloak_database(stack: Deployment) -> dict[str, str]:
    stores = stack.outputs["dataStores"]["databases"]
    return dict(next(store for store in stores if store["purpose"] == "identities"))


def marker_in(container: str, marker: str) -> bool:
    found = docker("exec", container, "sh", "-c", f"test -e {marker} && echo yes || true")
    return found.strip() == "yes"


def crafted_archive(container: str, marker: str) -> bytes:
    """A real `pg_dump -Fc` archive whose one table checks its rows with a function running
    `COPY ... TO PROGRAM` (a superuser restoring it runs the program), made in a scratch
    database of the stack's own Keycloak database server."""
    sql = (
        "CREATE FUNCTION pwn(x int) RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
        f"EXECUTE $q$COPY (SELECT 1) TO PROGRAM 'touch {marker}'$q$; RETURN true; END $f$; "
        "CREATE TABLE boom (x int CHECK (pwn(x))); INSERT INTO boom VALUES (1);"
    )
    psql = ["exec", "-u", "postgres", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    docker(*psql, "-c", "CREATE DATABASE crafted")
    try:
        docker(*psql, "-d", "crafted", "-c", sql)
        assert marker_in(container, marker), "the superuser's INSERT ran the program"
        docker("exec", container, "rm", "-f", marker)
        return subprocess.run(
            ["docker", "exec", "-u", "postgres", container, "pg_dump", "-Fc", "-d", "crafted"],
            capture_output=True,
            check=True,
        ).stdout
    finally:
        docker(*psql, "-c", "DROP DATABASE crafted")


@pytest.mark.parametrize(
    ("craft", "said"),
    [
        ("plain-sql-with-shell-escape", "does not appear to be a valid archive"),
        ("archive-calling-copy-to-program", "permission denied to COPY to or from an external"),
    ],
)
def test_a_signed_backup_whose_dump_would_run_code_runs_none_and_leaves_the_services_stopped(
    stack: Deployment,
    backup_dir: Path,
    key_file: Path,
    key: backup_key.BackupKey,
    craft: str,
    said: str,
) -> None:
    """The key holder's worst: Keycloak's dump (restored after MLflow's two databases)
    replaced by one that runs a program in the database server's container when restored as
    the superuser, the manifest signed again. Nothing runs; the restore fails part way, so
    Keycloak and MLflow stay stopped rather than serve a mix of the backup's data and the
    stack's (the good restore in the next test brings them back)."""
    container = keycloak_database(stack)["container"]
    marker = f"/tmp/restore-ran-code-{craft}"
    body = (
        f"\\! touch {marker}\nSELECT 1;\n".encode()
        if craft == "plain-sql-with-shell-escape"
        else crafted_archive(container, marker)
    )
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / craft
        shutil.copytree(backup_dir, copy)
        resigned(copy, key, {"keycloak.dump.age": key.encrypt_bytes(body)})
        failed = restore(stack, copy, key_file, "--overwrite")
    text = failed.output.replace("\n", " ")
    assert failed.exit_code == 1, failed.output
    assert "database mlflow: restored" in text and said in text, text
    assert "are left stopped" in text, text
    assert not marker_in(container, marker), f"{craft}: the restore ran the dump's program"
    services = stack.outputs["dataStores"]["services"]
    running = docker("inspect", "--format", "{{.State.Running}}", *services).split()
    assert running == ["false"] * len(services), (services, running)


def test_a_good_restore_brings_back_the_services_a_failed_one_left_stopped(
    stack: Deployment, written: dict[str, Any], backup_dir: Path, key_file: Path
) -> None:
    again = restore(stack, backup_dir, key_file, "--overwrite", "--policy-config", POLICY_CONFIG)
    assert again.exit_code == 0, again.output
    stack.test_passwords.clear()  # the restored Keycloak holds the backup's passwords
    token = stack.user_tokens("alice")["access_token"]
    with stack.mlflow(token) as mlflow:
        kept = mlflow.get("/api/2.0/mlflow/runs/get", params={"run_id": written["run_id"]})
        assert kept.status_code == 200, kept.text


class _RunsAProgram:
    """Unpickled, touches a file: what a crafted `__provider` would do on the host."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


HOST_MARKER = Path(tempfile.gettempdir()) / "restore-unpickled-crafted-provider"


def laced_with_pickled_code(backup_dir: Path, scratch: Path, key: backup_key.BackupKey) -> Path:
    """The backup with every grafted dynamic resource's state given a `__provider` (as the
    Pulumi SDK stores one: base64 of a pickle) that runs a program when unpickled."""
    copy = scratch / "laced"
    shutil.copytree(backup_dir, copy)
    saved = json.loads(key.decrypt_bytes((copy / backups.IDENTITIES).read_bytes()))
    payload = base64.b64encode(pickle.dumps(_RunsAProgram(str(HOST_MARKER)))).decode()
    dynamic = [r for r in saved["resources"] if r["type"] == DYNAMIC]
    assert dynamic, "the stack's MLflow grants are dynamic resources the backup carries"
    for resource in dynamic:
        resource["inputs"][PICKLED_CODE] = resource["outputs"][PICKLED_CODE] = payload
    resigned(copy, key, {backups.IDENTITIES: key.encrypt_bytes(json.dumps(saved).encode())})
    return copy


@pytest.fixture(scope="module")
def restored(
    stack: Deployment,
    written: dict[str, Any],
    backup_dir: Path,
    key_file: Path,
    key: backup_key.BackupKey,
) -> Iterator[dict[str, float]]:
    """The backed-up stack destroyed and created afresh (new volumes), then restored from the
    backup laced with pickled code in its Keycloak state."""
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
    HOST_MARKER.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        laced = laced_with_pickled_code(backup_dir, Path(scratch), key)
        started = time.monotonic()
        result = restore(stack, laced, key_file, "--policy-config", POLICY_CONFIG)
        seconds = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert "Policies:" in result.output, "the restore's up runs the policy pack"
    stack.reload_outputs()
    stack.test_passwords.clear()  # set in the new stack's Keycloak, which the backup replaced
    yield {"restore (s)": seconds}
    HOST_MARKER.unlink(missing_ok=True)


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
    # The refresh read every grafted grant through its provider: the crafted one never ran.
    assert not HOST_MARKER.exists(), "the backup's pickled code ran on the host"
