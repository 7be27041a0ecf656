"""What restore checks before it changes anything: the backup's manifest and checksums, and
that the backed-up Keycloak state fits the stack it is grafted onto."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from stackctl import state_graft
from stackctl.backup import FORMAT, MANIFEST, verify_backup
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
                     f"grant-{generation}", regex="^ds-"),
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
    "mlflow.sql": ("database", "mlflow"),
    "mlflow_auth.sql": ("database", "mlflow_auth"),
    "keycloak.sql": ("database", "keycloak"),
    "artifacts.tar": ("artifacts", None),
    "identity-state.json": ("identities", None),
}


def write_backup(directory: Path) -> None:
    parts = []
    for file, (kind, database) in FILES.items():
        body = f"-- {file}\n".encode() * 50
        (directory / file).write_bytes(body)
        parts.append({"file": file, "kind": kind, "database": database,
                      "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})  # fmt: skip
    manifest = {"format": FORMAT, "stack": "prod", "realm": "mlflow", "created": "2026-12-02",
                "versions": {}, "writes_paused_seconds": 1.0, "parts": parts}  # fmt: skip
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_a_complete_backup_passes(tmp_path: Path) -> None:
    write_backup(tmp_path)
    assert verify_backup(tmp_path, STORES).realm == "mlflow"


def test_every_problem_of_a_damaged_backup_is_named_at_once(tmp_path: Path) -> None:
    write_backup(tmp_path)
    (tmp_path / "artifacts.tar").unlink()
    dump = tmp_path / "keycloak.sql"
    dump.write_bytes(dump.read_bytes().replace(b"--", b"++"))
    with pytest.raises(StackctlError) as refused:
        verify_backup(tmp_path, STORES)
    message = str(refused.value)
    assert "artifacts.tar is missing" in message
    assert "keycloak.sql does not match its SHA-256" in message
    assert "nothing was changed" in message


def test_a_backup_missing_a_database_the_stack_has_is_refused(tmp_path: Path) -> None:
    write_backup(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["parts"] = [p for p in manifest["parts"] if p["database"] != "mlflow_auth"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(StackctlError, match="no database part for database mlflow_auth"):
        verify_backup(tmp_path, STORES)


def test_a_backup_cut_short_has_no_manifest_and_is_refused(tmp_path: Path) -> None:
    write_backup(tmp_path)
    (tmp_path / MANIFEST).unlink()
    with pytest.raises(StackctlError, match="cut short"):
        verify_backup(tmp_path, STORES)


def test_a_mangled_manifest_is_refused_with_the_field(tmp_path: Path) -> None:
    write_backup(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    del manifest["parts"][0]["sha256"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(StackctlError, match=r"damaged \(parts\.0\.sha256"):
        verify_backup(tmp_path, STORES)


def test_the_mlflow_grants_ids_come_from_the_backup_with_its_auth_database() -> None:
    """The restored mlflow-oidc-auth database holds the backup's grant rows: the fresh
    stack's grant ids name rows that no longer exist (the plugin answers 404 to them)."""
    saved = state_graft.identities(deployment("prod", "old"))
    grafted = by_name(state_graft.graft(deployment("prod", "new"), saved, "prod", "prod"))
    assert grafted["grant-ds"]["id"] == "grant-old"
    assert grafted["account-ada"]["id"] == "ada"
