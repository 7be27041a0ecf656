"""What restore checks before it changes anything: the backup's manifest, its signature with
the backup key and its checksums, and that the backed-up Keycloak state fits the stack it is
grafted onto, as data without code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from stackctl import backup_key, state_graft
from stackctl.backup import FORMAT, MANIFEST, Manifest, verify_backup, write_manifest
from stackctl.errors import StackctlError
from stackctl.outputs import DataStores

PROJECT = "mlflow-keycloak-stack"


def urn(stack: str, types: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{types}::{name}"


def resource(stack: str, types: str, name: str, id_: str, **inputs: Any) -> dict[str, Any]:
    return {
        "urn": urn(stack, types, name),
        "type": types.split("$")[-1],
        "id": id_,
        "inputs": inputs,
        "outputs": {**inputs, "id": id_},
        "provider": f"{urn(stack, 'pulumi:providers:keycloak', 'kc')}::provider-{stack}",
    }


def deployment(stack: str, generation: str) -> dict[str, Any]:
    """A stack's exported state: Keycloak objects, their provider, generated passwords."""
    kc = "mlflowstack:index:KeycloakServer"
    pg = "mlflowstack:index:AppDatabase"
    password = "random:index/randomPassword:RandomPassword"
    grants = "mlflowstack:index:MlflowPermissions"
    accounts = "mlflowstack:index:MlflowAccounts"
    return {
        "resources": [
            resource(stack, "pulumi:providers:keycloak", "kc", f"provider-{stack}",
                     password=f"admin-{generation}"),
            resource(stack, "keycloak:openid/client:Client", "mlflow-client", f"uuid-{generation}",
                     clientSecret=f"secret-{generation}"),
            resource(stack, f"{kc}${password}", "keycloak-admin-password", "none",
                     result=f"admin-{generation}"),
            resource(stack, f"{pg}${password}", "mlflow-tracking-password", "none",
                     result=f"db-{generation}"),
            resource(stack, "docker:index/container:Container", "mlflow", f"c-{generation}"),
            resource(stack, f"{grants}$pulumi-python:dynamic:Resource", "grant-ds",
                     f"grant-{generation}", regex="^ds-", __provider=f"pickled-code-{generation}"),
            resource(stack, f"{accounts}$pulumi-python:dynamic:Resource", "account-ada", "ada"),
        ]
    }  # fmt: skip


def by_name(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"].rsplit("::", 1)[-1]: r for r in state["resources"]}


def test_the_keycloak_objects_and_their_passwords_come_from_the_backup() -> None:
    saved = state_graft.identities(deployment("prod", "old"))
    grafted = by_name(state_graft.graft(deployment("prod", "new"), saved, "prod", "prod"))
    assert grafted["mlflow-client"]["id"] == "uuid-old"
    assert grafted["mlflow-client"]["outputs"]["clientSecret"] == "secret-old"
    assert grafted["keycloak-admin-password"]["outputs"]["result"] == "admin-old"
    assert grafted["kc"]["inputs"]["password"] == "admin-old"


def test_postgres_passwords_containers_and_the_providers_id_stay_the_new_stacks() -> None:
    saved = state_graft.identities(deployment("prod", "old"))
    grafted = by_name(state_graft.graft(deployment("prod", "new"), saved, "prod", "prod"))
    assert grafted["mlflow-tracking-password"]["outputs"]["result"] == "db-new"
    assert grafted["mlflow"]["id"] == "c-new"
    # Every resource names its provider by urn::id: the id must not move.
    assert grafted["kc"]["id"] == "provider-prod"
    assert grafted["mlflow-client"]["provider"].endswith("::provider-prod")


def test_a_backup_of_another_stack_name_grafts_onto_this_one() -> None:
    saved = state_graft.identities(deployment("prod", "old"))
    grafted = by_name(state_graft.graft(deployment("staging", "new"), saved, "prod", "staging"))
    assert grafted["mlflow-client"]["id"] == "uuid-old"
    assert grafted["mlflow-client"]["urn"].startswith("urn:pulumi:staging::")


def test_keycloak_objects_the_backup_lacks_are_refused_by_name() -> None:
    saved = [r for r in state_graft.identities(deployment("prod", "old"))
             if "mlflow-client" not in r["urn"]]  # fmt: skip
    with pytest.raises(StackctlError, match="only the stack has mlflow-client"):
        state_graft.graft(deployment("prod", "new"), saved, "prod", "prod")


def test_an_interrupted_update_is_refused_before_backing_up() -> None:
    state = {**deployment("prod", "old"), "pending_operations": [{"type": "creating"}]}
    with pytest.raises(StackctlError, match="pending operations"):
        state_graft.identities(state)


STORES = DataStores.model_validate(
    {
        "databases": [
            {"purpose": p, "database": d, "owner": d, "container": "pg"}
            for p, d in (
                ("tracking", "mlflow"),
                ("permissions", "mlflow_auth"),
                ("identities", "keycloak"),
            )
        ],
        "artifacts": {"container": "mlflow", "path": "/var/lib/mlflow/artifacts"},
        "services": ["keycloak", "mlflow"],
    }
)
FILES = {
    "mlflow.dump.age": ("database", "mlflow"),
    "mlflow_auth.dump.age": ("database", "mlflow_auth"),
    "keycloak.dump.age": ("database", "keycloak"),
    "artifacts.tar.age": ("artifacts", None),
    "identity-state.json.age": ("identities", None),
}


@pytest.fixture
def key(tmp_path: Path) -> backup_key.BackupKey:
    made, _ = backup_key.for_backup(tmp_path / "keys" / "backup-key")
    return made


def write_backup(directory: Path, key: backup_key.BackupKey) -> None:
    parts = []
    for file, (kind, database) in FILES.items():
        body = key.encrypt_bytes(f"-- {file}\n".encode() * 50)
        (directory / file).write_bytes(body)
        parts.append({"file": file, "kind": kind, "database": database,
                      "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})  # fmt: skip
    manifest = {"format": FORMAT, "stack": "prod", "realm": "mlflow", "created": "2026-12-02",
                "versions": {}, "writes_paused_seconds": 1.0, "key": key.key_id,
                "parts": parts}  # fmt: skip
    write_manifest(directory, Manifest.model_validate(manifest), key)


def signed(directory: Path) -> dict[str, Any]:
    return dict(json.loads((directory / MANIFEST).read_text())["signed"])


def resign(directory: Path, content: dict[str, Any], key: backup_key.BackupKey) -> None:
    """The manifest rewritten as the key's holder would (what an attacker without it cannot)."""
    mac = key.mac(content)
    (directory / MANIFEST).write_text(json.dumps({"signed": content, "mac": mac}))


def test_a_complete_backup_passes(tmp_path: Path, key: backup_key.BackupKey) -> None:
    write_backup(tmp_path, key)
    assert verify_backup(tmp_path, STORES, key).realm == "mlflow"


def test_every_problem_of_a_damaged_backup_is_named_at_once(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    write_backup(tmp_path, key)
    (tmp_path / "artifacts.tar.age").unlink()
    dump = tmp_path / "keycloak.dump.age"
    body = bytearray(dump.read_bytes())
    body[-1] ^= 1
    dump.write_bytes(bytes(body))
    with pytest.raises(StackctlError) as refused:
        verify_backup(tmp_path, STORES, key)
    message = str(refused.value)
    assert "artifacts.tar.age is missing" in message
    assert "keycloak.dump.age does not match its SHA-256" in message
    assert "nothing was changed" in message


def test_a_backup_missing_a_database_the_stack_has_is_refused(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    write_backup(tmp_path, key)
    content = signed(tmp_path)
    content["parts"] = [p for p in content["parts"] if p["database"] != "mlflow_auth"]
    resign(tmp_path, content, key)
    with pytest.raises(StackctlError, match="no database part for database mlflow_auth"):
        verify_backup(tmp_path, STORES, key)


def test_a_backup_cut_short_has_no_manifest_and_is_refused(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    write_backup(tmp_path, key)
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(StackctlError, match="cut short"):
        verify_backup(tmp_path, STORES, key)


def test_a_mangled_manifest_is_refused_with_the_field(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    write_backup(tmp_path, key)
    content = signed(tmp_path)
    del content["parts"][0]["sha256"]
    resign(tmp_path, content, key)
    with pytest.raises(StackctlError, match=r"damaged \(parts\.0\.sha256"):
        verify_backup(tmp_path, STORES, key)


def test_a_manifest_changed_without_the_key_is_refused(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    """The attack: a part replaced and its SHA-256 in the manifest updated to match, by
    someone who has the backup but not the key."""
    write_backup(tmp_path, key)
    envelope = json.loads((tmp_path / MANIFEST).read_text())
    dump = tmp_path / "keycloak.dump.age"
    dump.write_bytes(key.encrypt_bytes(b"SELECT 'not the backup';"))
    for part in envelope["signed"]["parts"]:
        if part["file"] == dump.name:
            part.update(
                bytes=dump.stat().st_size, sha256=hashlib.sha256(dump.read_bytes()).hexdigest()
            )
    (tmp_path / MANIFEST).write_text(json.dumps(envelope))
    with pytest.raises(StackctlError, match="changed after the backup key signed it"):
        verify_backup(tmp_path, STORES, key)


def test_a_backup_taken_with_another_key_is_refused_naming_both_keys(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    write_backup(tmp_path, key)
    other, _ = backup_key.for_backup(tmp_path / "other-key")
    with pytest.raises(StackctlError) as refused:
        verify_backup(tmp_path, STORES, other)
    assert key.key_id in str(refused.value) and other.key_id in str(refused.value)


def test_a_part_outside_the_backup_directory_is_refused(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    write_backup(tmp_path, key)
    content = signed(tmp_path)
    content["parts"][0]["file"] = "../elsewhere.dump.age"
    resign(tmp_path, content, key)
    with pytest.raises(StackctlError, match=r"damaged \(parts\.0\.file"):
        verify_backup(tmp_path, STORES, key)


def test_an_unencrypted_format_1_backup_is_refused_with_what_to_do(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 1, "parts": []}))
    with pytest.raises(StackctlError, match=r"format 1 .*take a new backup"):
        verify_backup(tmp_path, STORES, key)


def test_restore_without_the_key_says_which_file_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match=f"no backup key at {tmp_path}/absent"):
        backup_key.for_restore(tmp_path / "absent")


def test_the_key_is_made_once_readable_by_its_owner_alone(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "backup-key"
    made, new = backup_key.for_backup(path)
    again, new_again = backup_key.for_backup(path)
    assert (new, new_again) == (True, False)
    assert made.key_id == again.key_id
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("AGE-SECRET-KEY-1")


def test_parts_are_encrypted_and_only_the_key_opens_them(
    tmp_path: Path, key: backup_key.BackupKey
) -> None:
    sealed = key.encrypt_bytes(b"client secret")
    assert b"client secret" not in sealed
    assert key.decrypt_bytes(sealed) == b"client secret"
    other, _ = backup_key.for_backup(tmp_path / "other-key")
    with pytest.raises(StackctlError, match="cannot decrypt"):
        other.decrypt_bytes(sealed)


def test_dynamic_resources_code_is_never_saved_and_never_grafted() -> None:
    """A dynamic resource's `__provider` is pickled code the SDK runs: the backup leaves it
    out, and a saved state that carries one (a crafted backup) grafts the stack's own."""
    saved = state_graft.identities(deployment("prod", "old"))
    grant = next(r for r in saved if r["urn"].endswith("::grant-ds"))
    assert "__provider" not in grant["inputs"] and "__provider" not in grant["outputs"]
    grant["inputs"]["__provider"] = grant["outputs"]["__provider"] = "crafted-pickle"
    grafted = by_name(state_graft.graft(deployment("prod", "new"), saved, "prod", "prod"))
    assert grafted["grant-ds"]["inputs"]["__provider"] == "pickled-code-new"
    assert grafted["grant-ds"]["outputs"]["__provider"] == "pickled-code-new"
    assert grafted["grant-ds"]["inputs"]["regex"] == "^ds-"


def test_the_mlflow_grants_ids_come_from_the_backup_with_its_auth_database() -> None:
    """The restored mlflow-oidc-auth database holds the backup's grant rows: the fresh
    stack's grant ids name rows that no longer exist (the plugin answers 404 to them)."""
    saved = state_graft.identities(deployment("prod", "old"))
    grafted = by_name(state_graft.graft(deployment("prod", "new"), saved, "prod", "prod"))
    assert grafted["grant-ds"]["id"] == "grant-old"
    assert grafted["account-ada"]["id"] == "ada"
