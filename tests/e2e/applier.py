"""Applies the resources the program declares to the real Docker engine, Postgres and Keycloak.

Why this exists: the official provider plugins (pulumi-docker, -keycloak, -postgresql, -random)
cannot be built on machines that reach only package registries (the Go module proxy refuses
their modules, see toolchain/providers/README.md). Without them no `pulumi up` can run here. This
applier stands in for the plugins, and only for them: the real program runs under Pulumi's own
runtime (mock monitor), and each resource it registers is created for real, in dependency
order, with its declared inputs, by the libraries a person would use (Docker Engine API,
psycopg, python-keycloak). What it proves is that the stack's declared configuration produces a
working SSO deployment; what it cannot prove is the providers' own diffing, refresh and destroy,
which the engine suite (`-m engine`) covers wherever the plugins exist.
"""

from __future__ import annotations

import os
import re
import secrets
import string
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker  # type: ignore[import-untyped]
import psycopg
from keycloak import KeycloakAdmin
from psycopg import sql
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

SECRET_SIG = "4dabf18193072939515e22adb298388d"
_GO_DURATION = re.compile(r"(\d+)(h|m|s)")


def unwrap(value: Any) -> Any:
    """Inputs as plain Python values: secret wrappers removed, whole numbers as ints."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Structs carry every number as a float
    return value


def go_seconds(duration: str) -> int:
    """Seconds of a Go duration such as "1m30s" (the keycloak provider's spelling)."""
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in _GO_DURATION.findall(duration))


def _nanoseconds(duration: str | None) -> int:
    return go_seconds(duration or "0s") * 1_000_000_000


def _provider_name(reference: str | None) -> str:
    if not reference:
        raise ValueError("resource has no provider reference")
    return reference.split("::")[-2]


@dataclass
class Created:
    type: str
    name: str
    id: str
    args: MockResourceArgs


@dataclass
class LiveApplier(Mocks):
    """Pulumi mocks whose new_resource performs the resource for real."""

    log: Callable[[str], None]
    created: list[Created] = field(default_factory=list)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.docker = docker.from_env(timeout=120)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        inputs = unwrap(dict(args.inputs))
        handler = _HANDLERS.get(args.typ)
        if not args.custom:  # a component: nothing to apply
            return args.name, dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            self.providers[args.name] = inputs
            return args.name, dict(args.inputs)
        if handler is None:
            raise NotImplementedError(f"the live applier cannot apply {args.typ} ({args.name})")
        started = time.monotonic()
        resource_id, outputs = handler(self, args, inputs)
        self.log(f"applied {args.typ} {args.name} in {time.monotonic() - started:.1f}s")
        with self.lock:
            self.created.append(Created(args.typ, args.name, resource_id, args))
        return resource_id, {**dict(args.inputs), **outputs}

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        raise NotImplementedError(f"the live applier has no invoke {args.token}")

    # -- helpers ---------------------------------------------------------------------------
    def keycloak(self, args: MockResourceArgs, realm: str) -> KeycloakAdmin:
        config = self.providers[_provider_name(args.provider)]
        return KeycloakAdmin(
            server_url=config["url"],
            username=config["username"],
            password=config["password"],
            realm_name=realm,
            user_realm_name=config.get("realm", "master"),
        )

    def postgres(self, args: MockResourceArgs) -> psycopg.Connection[Any]:
        config = self.providers[_provider_name(args.provider)]
        return psycopg.connect(
            host=config["host"],
            port=int(config["port"]),
            user=config["username"],
            password=config["password"],
            dbname=config.get("database", "postgres"),
            autocommit=True,
        )

    def replace_container(self, name: str) -> str:
        """Delete a declared container and create it again from its declaration, as the
        engine does when a change forces a replacement; returns the new container's id."""
        item = next(
            c
            for c in self.created
            if c.type == "docker:index/container:Container" and c.name == name
        )
        self.docker.api.remove_container(item.id, force=True, v=False)
        item.id, _ = container(self, item.args, unwrap(dict(item.args.inputs)))
        return item.id

    def destroy(self) -> None:
        """Remove what was created, newest first (only Docker objects hold anything)."""
        for item in reversed(self.created):
            if item.type == "docker:index/container:Container":
                self.docker.api.remove_container(item.id, force=True, v=False)
        for item in reversed(self.created):
            if item.type == "docker:index/network:Network":
                self.docker.api.remove_network(item.id)
            elif item.type == "docker:index/volume:Volume":
                self.docker.api.remove_volume(item.id, force=True)
        self.created.clear()


Handler = Callable[[LiveApplier, MockResourceArgs, dict[str, Any]], tuple[str, dict[str, Any]]]


# -- random ---------------------------------------------------------------------------------
def random_password(
    _: LiveApplier, __: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    alphabet = string.ascii_letters + string.digits
    specials = "!#$%&*()-_=+[]{}<>:?"
    special = i.get("special", True)
    length = int(i["length"])
    chars = (
        [secrets.choice(specials) for _ in range(int(i.get("minSpecial", 0)))] if special else []
    )
    pool = alphabet + (specials if special else "")
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return secrets.token_hex(8), {"result": "".join(chars)}


# -- docker ---------------------------------------------------------------------------------
def network(a: LiveApplier, _: MockResourceArgs, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = a.docker.networks.create(i["name"], driver=i.get("driver", "bridge"))
    return str(created.id), {}


def volume(a: LiveApplier, _: MockResourceArgs, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    created = a.docker.volumes.create(i["name"])
    return str(created.name), {}


def remote_image(
    a: LiveApplier, _: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    try:
        image = a.docker.images.get(i["name"])
    except docker.errors.ImageNotFound:
        raise RuntimeError(
            f"image {i['name']} is not present locally and cannot be pulled here"
        ) from None
    return str(image.id), {"imageId": image.id, "repoDigest": i["name"]}


def built_image(
    a: LiveApplier, _: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    build = i["build"]
    command = ["docker", "build", "-t", i["imageName"], "-f", build["dockerfile"]]
    for key, value in build.get("args", {}).items():
        command += ["--build-arg", f"{key}={value}"]
    command.append(build["context"])
    a.log(f"docker build {i['imageName']} (first build installs MLflow: minutes)")
    # The legacy builder: Debian's docker.io 20.10 ships no buildx, which newer clients need
    # for BuildKit.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"docker build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return i["imageName"], {"imageName": i["imageName"], "repoDigest": ""}


def container(a: LiveApplier, _: MockResourceArgs, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    api = a.docker.api
    networks = i.get("networksAdvanced", [])
    host_config = api.create_host_config(
        port_bindings={
            p["internal"]: (p.get("ip", "0.0.0.0"), p["external"]) for p in i.get("ports", [])
        },
        binds={
            v["volumeName"]: {"bind": v["containerPath"], "mode": "rw"}
            for v in i.get("volumes", [])
        },
        restart_policy={"Name": i.get("restart", "no")},
        network_mode=networks[0]["name"] if networks else None,
    )
    networking = (
        api.create_networking_config(
            {
                networks[0]["name"]: api.create_endpoint_config(
                    aliases=networks[0].get("aliases", [])
                )
            }
        )
        if networks
        else None
    )
    check = i.get("healthcheck")
    healthcheck = (
        {
            "test": check["tests"],
            "interval": _nanoseconds(check.get("interval")),
            "timeout": _nanoseconds(check.get("timeout")),
            "start_period": _nanoseconds(check.get("startPeriod")),
            "retries": int(check.get("retries", 3)),
        }
        if check
        else None
    )
    created = api.create_container(
        image=i["image"],
        command=i.get("command"),
        name=i["name"],
        environment=i.get("envs", []),
        ports=[p["internal"] for p in i.get("ports", [])],
        host_config=host_config,
        networking_config=networking,
        healthcheck=healthcheck,
    )
    container_id = created["Id"]
    api.start(container_id)
    if i.get("wait"):
        _wait_healthy(a, i["name"], container_id, int(i.get("waitTimeout", 60)))
    return container_id, {}


def _wait_healthy(a: LiveApplier, name: str, container_id: str, timeout: int) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = a.docker.api.inspect_container(container_id)["State"]
        health = state.get("Health", {}).get("Status")
        if health == "healthy":
            return
        if not state["Running"]:
            break
        time.sleep(2)
    logs = a.docker.api.logs(container_id, tail=60).decode(errors="replace")
    raise RuntimeError(f"container {name} did not become healthy in {timeout}s:\n{logs}")


# -- postgresql -----------------------------------------------------------------------------
def pg_role(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    flags = [
        "LOGIN" if i.get("login") else "NOLOGIN",
        "SUPERUSER" if i.get("superuser") else "NOSUPERUSER",
        "CREATEDB" if i.get("createDatabase") else "NOCREATEDB",
        "CREATEROLE" if i.get("createRole") else "NOCREATEROLE",
        "INHERIT" if i.get("inherit", True) else "NOINHERIT",
    ]
    statement = sql.SQL("CREATE ROLE {} " + " ".join(flags) + " PASSWORD {}").format(
        sql.Identifier(i["name"]), sql.Literal(i["password"])
    )
    with a.postgres(args) as connection:
        connection.execute(statement)
    return i["name"], {}


def pg_database(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
        sql.Identifier(i["name"]), sql.Identifier(i["owner"])
    )
    with a.postgres(args) as connection:
        connection.execute(statement)
    return i["name"], {}


def pg_grant(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    if i["objectType"] != "database" or i["role"] != "public" or i.get("privileges"):
        raise NotImplementedError(f"the live applier only revokes PUBLIC on a database: {i}")
    statement = sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
        sql.Identifier(i["database"])
    )
    with a.postgres(args) as connection:
        connection.execute(statement)
    return f"{i['database']}-public", {}


# -- keycloak -------------------------------------------------------------------------------
def kc_realm(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    brute = i.get("securityDefenses", {}).get("bruteForceDetection")
    payload: dict[str, Any] = {
        "realm": i["realm"],
        "enabled": i.get("enabled", True),
        "displayName": i.get("displayName"),
        "accessTokenLifespan": go_seconds(i["accessTokenLifespan"]),
        "ssoSessionIdleTimeout": go_seconds(i["ssoSessionIdleTimeout"]),
        "ssoSessionMaxLifespan": go_seconds(i["ssoSessionMaxLifespan"]),
        "offlineSessionIdleTimeout": go_seconds(i["offlineSessionIdleTimeout"]),
        "revokeRefreshToken": i["revokeRefreshToken"],
        "refreshTokenMaxReuse": i["refreshTokenMaxReuse"],
        "passwordPolicy": i.get("passwordPolicy"),
        "attributes": i.get("attributes", {}),
    }
    if brute:
        payload.update(
            bruteForceProtected=True,
            failureFactor=brute["maxLoginFailures"],
            permanentLockout=brute.get("permanentLockout", False),
            waitIncrementSeconds=brute.get("waitIncrementSeconds"),
            maxFailureWaitSeconds=brute.get("maxFailureWaitSeconds"),
            maxDeltaTimeSeconds=brute.get("failureResetTimeSeconds"),
        )
    a.keycloak(args, "master").create_realm(payload)
    return str(i["realm"]), {"internalId": i["realm"]}


def kc_realm_events(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    admin = a.keycloak(args, i["realmId"])
    admin.set_events(
        {
            "eventsEnabled": i.get("eventsEnabled", False),
            "eventsExpiration": i.get("eventsExpiration"),
            "adminEventsEnabled": i.get("adminEventsEnabled", False),
            "adminEventsDetailsEnabled": i.get("adminEventsDetailsEnabled", False),
            "eventsListeners": i.get("eventsListeners", []),
            "enabledEventTypes": i.get("enabledEventTypes", []),
        }
    )
    return f"{i['realmId']}-events", {}


def kc_client(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    admin = a.keycloak(args, i["realmId"])
    attributes = {}
    if i.get("validPostLogoutRedirectUris"):
        attributes["post.logout.redirect.uris"] = "##".join(i["validPostLogoutRedirectUris"])
    if i.get("pkceCodeChallengeMethod"):
        attributes["pkce.code.challenge.method"] = i["pkceCodeChallengeMethod"]
    client_uuid = admin.create_client(
        {
            "clientId": i["clientId"],
            "name": i.get("name"),
            "enabled": i.get("enabled", True),
            "protocol": "openid-connect",
            "publicClient": i["accessType"] == "PUBLIC",
            "bearerOnly": i["accessType"] == "BEARER-ONLY",
            "standardFlowEnabled": i.get("standardFlowEnabled", False),
            "implicitFlowEnabled": i.get("implicitFlowEnabled", False),
            "directAccessGrantsEnabled": i.get("directAccessGrantsEnabled", False),
            "serviceAccountsEnabled": i.get("serviceAccountsEnabled", False),
            "rootUrl": i.get("rootUrl"),
            "baseUrl": i.get("baseUrl"),
            "redirectUris": i.get("validRedirectUris", []),
            "webOrigins": i.get("webOrigins", []),
            "attributes": attributes,
        }
    )
    outputs: dict[str, Any] = {
        "clientSecret": admin.get_client_secrets(client_uuid)["value"],
        "clientId": i["clientId"],
    }
    if i.get("serviceAccountsEnabled"):
        outputs["serviceAccountUserId"] = admin.get_client_service_account_user(client_uuid)["id"]
    return str(client_uuid), outputs


def _mapper(kind: str, config: Callable[[dict[str, Any]], dict[str, str]]) -> Handler:
    def apply(
        a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        admin = a.keycloak(args, i["realmId"])
        admin.add_mapper_to_client(
            i["clientId"],
            {
                "name": i["name"],
                "protocol": "openid-connect",
                "protocolMapper": kind,
                "config": config(i),
            },
        )
        return f"{i['clientId']}-{i['name']}", {}

    return apply


def _flag(value: Any) -> str:
    return "true" if value else "false"


group_mapper = _mapper(
    "oidc-group-membership-mapper",
    lambda i: {
        "claim.name": i["claimName"],
        "full.path": _flag(i.get("fullPath", True)),
        "id.token.claim": _flag(i.get("addToIdToken", True)),
        "access.token.claim": _flag(i.get("addToAccessToken", True)),
        "userinfo.token.claim": _flag(i.get("addToUserinfo", True)),
    },
)
audience_mapper = _mapper(
    "oidc-audience-mapper",
    lambda i: {
        "included.client.audience": i["includedClientAudience"],
        "id.token.claim": _flag(i.get("addToIdToken", True)),
        "access.token.claim": _flag(i.get("addToAccessToken", True)),
    },
)


def kc_group(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    group_id = a.keycloak(args, i["realmId"]).create_group({"name": i["name"]})
    return str(group_id), {}


def kc_role(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    admin = a.keycloak(args, i["realmId"])
    admin.create_realm_role({"name": i["name"], "description": i.get("description", "")})
    return str(admin.get_realm_role(i["name"])["id"]), {}


def kc_group_roles(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    admin = a.keycloak(args, i["realmId"])
    roles = [admin.get_realm_role_by_id(role_id) for role_id in i["roleIds"]]
    admin.assign_group_realm_roles(i["groupId"], roles)
    return f"{i['groupId']}-roles", {}


def kc_user(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    password = i.get("initialPassword") or {}
    user_id = a.keycloak(args, i["realmId"]).create_user(
        {
            "username": i["username"],
            "email": i.get("email"),
            "emailVerified": i.get("emailVerified", False),
            "firstName": i.get("firstName"),
            "lastName": i.get("lastName"),
            "enabled": i.get("enabled", True),
            "credentials": (
                [
                    {
                        "type": "password",
                        "value": password["value"],
                        "temporary": password["temporary"],
                    }
                ]
                if password
                else []
            ),
        }
    )
    return str(user_id), {}


def kc_user_groups(
    a: LiveApplier, args: MockResourceArgs, i: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    admin = a.keycloak(args, i["realmId"])
    for group_id in i["groupIds"]:
        admin.group_user_add(i["userId"], group_id)
    return f"{i['userId']}-groups", {}


_HANDLERS: dict[str, Handler] = {
    "random:index/randomPassword:RandomPassword": random_password,
    "docker:index/network:Network": network,
    "docker:index/volume:Volume": volume,
    "docker:index/remoteImage:RemoteImage": remote_image,
    "docker:index/image:Image": built_image,
    "docker:index/container:Container": container,
    "postgresql:index/role:Role": pg_role,
    "postgresql:index/database:Database": pg_database,
    "postgresql:index/grant:Grant": pg_grant,
    "keycloak:index/realm:Realm": kc_realm,
    "keycloak:index/realmEvents:RealmEvents": kc_realm_events,
    "keycloak:openid/client:Client": kc_client,
    "keycloak:openid/groupMembershipProtocolMapper:GroupMembershipProtocolMapper": group_mapper,
    "keycloak:openid/audienceProtocolMapper:AudienceProtocolMapper": audience_mapper,
    "keycloak:index/group:Group": kc_group,
    "keycloak:index/role:Role": kc_role,
    "keycloak:index/groupRoles:GroupRoles": kc_group_roles,
    "keycloak:index/user:User": kc_user,
    "keycloak:index/userGroups:UserGroups": kc_user_groups,
}
