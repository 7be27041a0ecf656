"""The kubernetes target rendered by a real `pulumi up` (the provider's renderYamlToDirectory):
a throwaway project copy, a stack per case, the manifests read back as Python objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.project import CliProject

# Not secrets of anything: values the tests set as secret config and then look for.
ACCESS_KEY_ID = "AKIATESTRENDERKEY0001"
SECRET_ACCESS_KEY = "render-test-secret-access-key-0123456789"
REDIS_PASSWORD = "render-test-redis-password-42"
EXTERNAL_PASSWORDS = {
    "tracking": "render-test-tracking-db-password",
    "permissions": "render-test-permissions-db-password",
    "identities": "render-test-identities-db-password",
}

BASE_CONFIG: dict[str, Any] = {
    "target": "kubernetes",
    "mlflowImage": "registry.example.com/mlflow-oidc:3.17.2-11.0.2",
    "mlflowHostname": "mlflow.example.com",
    "keycloakHostname": "auth.example.com",
    "users": [
        {
            "username": "ada",
            "email": "ada@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "groups": ["mlflow-admin"],
        }
    ],
}


@dataclass
class Rendered:
    """Every manifest a render wrote, and the stack's outputs with their secrets shown."""

    manifests: list[dict[str, Any]]
    files: dict[Path, str]
    outputs: dict[str, Any]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m.get("kind") == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [m for m in self.of_kind(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, (
            f"{len(found)} {kind} named {name}: {[m['metadata'] for m in found]}"
        )
        return found[0]


def render(
    project: CliProject,
    stack: str,
    kubernetes: dict[str, Any],
    secrets: dict[str, str],
    config: dict[str, Any] | None = None,
) -> Rendered:
    """`pulumi up` of a kubernetes stack into a render directory, then its manifests."""
    out_dir = project.workdir / f"rendered-{stack}"
    project.new_stack(
        stack,
        {**BASE_CONFIG, **(config or {}), "kubernetes": {**kubernetes, "renderDir": str(out_dir)}},
    )
    for path, value in secrets.items():
        project.must("config", "set", "--stack", stack, "--secret", "--path", path, value)
    # Render mode needs no cluster, and the provider refuses to render with one configured.
    env = {k: v for k, v in project.env.items() if k != "KUBECONFIG"}
    saved, project.env = project.env, env
    try:
        project.must("up", "--yes", "--skip-preview", "--stack", stack)
        shown = project.must("stack", "output", "--json", "--show-secrets", "--stack", stack)
    finally:
        project.env = saved
    files = {path: path.read_text() for path in sorted(out_dir.rglob("*.yaml"))}
    manifests = [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]
    return Rendered(manifests, files, json.loads(shown.stdout))
