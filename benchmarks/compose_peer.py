"""The peer our `up` is measured against: the same four services, on the same images and build
contexts, brought up the way the docker-compose recipes do it (the seed README's way, finished):
`docker-compose up`, Keycloak importing a realm JSON at start (`--import-realm`), MLflow after
its database and Keycloak are healthy. The realm holds what those recipes put in it: the realm
with its token lifespans, brute-force detection and events, the confidential MLflow client with
its groups and audience mappers, the two groups and the e2e stack's people with one-time
passwords. It declares none of what our stack also does (database roles of least privilege,
teams, MLflow accounts and permissions, second factor, the automation and operator clients).

Used by benchmarks/engine.py, which times it in the same run as our `up`.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from components.docker.keycloak_server import BUILD_CONTEXT as KEYCLOAK_CONTEXT
from components.docker.keycloak_server import READY as KEYCLOAK_READY
from components.docker.keycloak_server import optimized_build_args
from components.docker.mlflow_server import BUILD_CONTEXT as MLFLOW_CONTEXT
from components.docker.mlflow_server import HEALTH as MLFLOW_HEALTH
from components.docker.postgres_server import HEALTH as POSTGRES_HEALTH
from components.docker.service_container import HEALTH_INTERVAL_SECONDS, HEALTH_RETRIES, HealthCheck
from components.keycloak_app import HTTP_PORT as KEYCLOAK_PORT
from components.mlflow_app import HTTP_PORT as MLFLOW_PORT
from components.mlflow_app import server_command
from stackconfig import MlflowConfig
from stackrules.versions import pinned_versions
from tests.support.deployment import ACCESS_TOKEN_SECONDS, USERS, docker

PROJECT = "mkspeer"
# Ports of their own, so the peer never meets the e2e stack's.
KEYCLOAK_HOST_PORT, MLFLOW_HOST_PORT = 18090, 15090
SERVICES = ("mlflow-db", "keycloak-db", "keycloak", "mlflow")
BUILT_IMAGES = (f"{PROJECT}_keycloak", f"{PROJECT}_mlflow")


def healthcheck(health: HealthCheck) -> dict[str, Any]:
    return {
        "test": health.test,
        "interval": f"{HEALTH_INTERVAL_SECONDS}s",
        "timeout": "5s",
        "start_period": health.start_period,
        "retries": HEALTH_RETRIES,
    }


def realm_json(client_secret: str) -> dict[str, Any]:
    """The `mlflow` realm as a peer imports it."""
    mlflow_url = f"http://localhost:{MLFLOW_HOST_PORT}"
    groups = ["mlflow", "mlflow-admin"]
    return {
        "realm": "mlflow",
        "enabled": True,
        "accessTokenLifespan": ACCESS_TOKEN_SECONDS,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "bruteForceProtected": True,
        "eventsEnabled": True,
        "adminEventsEnabled": True,
        "eventsExpiration": 2592000,
        "groups": [{"name": name} for name in groups],
        "clients": [
            {
                "clientId": "mlflow",
                "enabled": True,
                "publicClient": False,
                "secret": client_secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "rootUrl": mlflow_url,
                "redirectUris": [f"{mlflow_url}/callback"],
                "webOrigins": [mlflow_url],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": f"{mlflow_url}/oidc/ui/auth",
                },
                "protocolMappers": [
                    {
                        "name": "groups",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-group-membership-mapper",
                        "config": {
                            "claim.name": "groups",
                            "full.path": "false",
                            "id.token.claim": "true",
                            "access.token.claim": "true",
                            "userinfo.token.claim": "true",
                        },
                    },
                    {
                        "name": "audience",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "config": {
                            "included.client.audience": "mlflow",
                            "access.token.claim": "true",
                            "id.token.claim": "false",
                        },
                    },
                ],
            }
        ],
        "users": [
            {
                "username": user["username"],
                "email": user["email"],
                "emailVerified": True,
                "firstName": str(user["username"]).title(),
                "lastName": "Tester",
                "enabled": True,
                "credentials": [
                    {"type": "password", "value": secrets.token_urlsafe(12), "temporary": True}
                ],
                "groups": [f"/{group}" for group in user["groups"] if group in groups],
            }
            for user in USERS
        ],
    }


def compose_file(passwords: dict[str, str], client_secret: str) -> dict[str, Any]:
    pins = pinned_versions()
    postgres = pins["LOCAL_POSTGRES_IMAGE"]

    def database(name: str, password: str, db: str, init: str | None = None) -> dict[str, Any]:
        service: dict[str, Any] = {
            "image": postgres,
            "environment": {"POSTGRES_PASSWORD": password, "POSTGRES_DB": db},
            "volumes": [f"{name}-data:/var/lib/postgresql/data"],
            "healthcheck": healthcheck(POSTGRES_HEALTH),
        }
        if init:
            service["volumes"].append(f"./{init}:/docker-entrypoint-initdb.d/{init}:ro")
        return service

    mlflow_db = f"postgresql+psycopg://postgres:{passwords['mlflow-db']}@mlflow-db:5432"
    return {
        "version": "2.4",
        "services": {
            "mlflow-db": database("mlflow-db", passwords["mlflow-db"], "mlflow", "auth-db.sql"),
            "keycloak-db": database("keycloak-db", passwords["keycloak-db"], "keycloak"),
            "keycloak": {
                "build": {
                    "context": str(KEYCLOAK_CONTEXT),
                    "args": optimized_build_args(pins["LOCAL_KEYCLOAK_IMAGE"]),
                },
                "command": ["start", "--optimized", "--import-realm"],
                "environment": {
                    "KC_DB_URL": "jdbc:postgresql://keycloak-db:5432/keycloak",
                    "KC_DB_USERNAME": "postgres",
                    "KC_DB_PASSWORD": passwords["keycloak-db"],
                    "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
                    "KC_BOOTSTRAP_ADMIN_PASSWORD": passwords["keycloak-admin"],
                    "KC_HOSTNAME": f"http://localhost:{KEYCLOAK_HOST_PORT}",
                    "KC_HOSTNAME_BACKCHANNEL_DYNAMIC": "true",
                    "KC_HTTP_ENABLED": "true",
                    "KC_CACHE": "local",
                },
                "volumes": ["./realm.json:/opt/keycloak/data/import/mlflow-realm.json:ro"],
                "ports": [f"127.0.0.1:{KEYCLOAK_HOST_PORT}:{KEYCLOAK_PORT}"],
                "depends_on": {"keycloak-db": {"condition": "service_healthy"}},
                "healthcheck": healthcheck(KEYCLOAK_READY),
            },
            "mlflow": {
                "build": {
                    "context": str(MLFLOW_CONTEXT),
                    "args": {
                        "BASE_IMAGE": pins["LOCAL_PYTHON_IMAGE"],
                        "MLFLOW_VERSION": pins["MLFLOW_VERSION"],
                        "MLFLOW_OIDC_AUTH_VERSION": pins["MLFLOW_OIDC_AUTH_VERSION"],
                        "PSYCOPG_VERSION": pins["PSYCOPG_VERSION"],
                    },
                },
                "command": server_command(MlflowConfig(), "/var/lib/mlflow/artifacts"),
                "environment": {
                    "MLFLOW_BACKEND_STORE_URI": f"{mlflow_db}/mlflow",
                    "OIDC_USERS_DB_URI": f"{mlflow_db}/mlflow_auth",
                    "SECRET_KEY": passwords["mlflow-secret-key"],
                    "OIDC_DISCOVERY_URL": f"http://keycloak:{KEYCLOAK_PORT}"
                    "/realms/mlflow/.well-known/openid-configuration",
                    "OIDC_CLIENT_ID": "mlflow",
                    "OIDC_CLIENT_SECRET": client_secret,
                    "OIDC_REDIRECT_URI": f"http://localhost:{MLFLOW_HOST_PORT}/callback",
                    "OIDC_GROUP_NAME": "mlflow",
                    "OIDC_ADMIN_GROUP_NAME": "mlflow-admin",
                    "MLFLOW_DISABLE_TELEMETRY": "true",
                },
                "volumes": ["mlflow-artifacts:/var/lib/mlflow"],
                "ports": [f"127.0.0.1:{MLFLOW_HOST_PORT}:{MLFLOW_PORT}"],
                # The recipes start MLflow once its database and its IdP answer.
                "depends_on": {
                    "mlflow-db": {"condition": "service_healthy"},
                    "keycloak": {"condition": "service_healthy"},
                },
                "healthcheck": healthcheck(MLFLOW_HEALTH),
            },
        },
        "volumes": {"mlflow-db-data": {}, "keycloak-db-data": {}, "mlflow-artifacts": {}},
    }


class Peer:
    """The peer's project in a scratch directory; `up()` returns seconds to all healthy."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        passwords = {
            name: secrets.token_urlsafe(24)
            for name in ("mlflow-db", "keycloak-db", "keycloak-admin", "mlflow-secret-key")
        }
        client_secret = secrets.token_urlsafe(32)
        (workdir / "docker-compose.yml").write_text(
            yaml.safe_dump(compose_file(passwords, client_secret), sort_keys=False)
        )
        (workdir / "realm.json").write_text(json.dumps(realm_json(client_secret)))
        (workdir / "auth-db.sql").write_text("CREATE DATABASE mlflow_auth;\n")
        # The scratch directory is the owner's alone (0700); the files mounted into the
        # containers must be readable by their users (Keycloak's and Postgres's are not root).
        (workdir / "docker-compose.yml").chmod(0o600)
        for mounted in ("realm.json", "auth-db.sql"):
            (workdir / mounted).chmod(0o644)

    def compose(self, *args: str) -> None:
        done = subprocess.run(
            ["docker-compose", "--project-name", PROJECT, *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def up(self, timeout: float = 900) -> float:
        """`docker-compose up -d` (building what is not built), then the wait for every service
        to report healthy, as `docker compose up --wait` does."""
        started = time.monotonic()
        self.compose("up", "-d", "--build")
        names = [f"{PROJECT}_{service}_1" for service in SERVICES]
        while time.monotonic() - started < timeout:
            states = docker(
                "inspect", "--format", "{{.State.Health.Status}}", *names, check=False
            ).split()
            if states == ["healthy"] * len(names):
                return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"the compose peer was not healthy within {timeout} s")

    def down(self) -> None:
        """Containers, network and volumes: the next `up` starts from empty databases."""
        self.compose("down", "--volumes", "--remove-orphans")


def drop_peer_images() -> None:
    for image in BUILT_IMAGES:
        docker("rmi", "-f", image, check=False)


@contextmanager
def compose_peer() -> Iterator[Peer]:
    with tempfile.TemporaryDirectory() as scratch:
        peer = Peer(Path(scratch))
        peer.down()  # what a killed earlier run left
        try:
            yield peer
        finally:
            peer.down()
