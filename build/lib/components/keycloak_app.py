"""Keycloak as every target runs it: its ports, what it publishes, the stack's server options
and how long the stack waits for its admin API. The Docker container (docker/keycloak_server.py)
and the operator's Keycloak (kubernetes/keycloak_cluster.py) both take these as they are."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_keycloak as keycloak

HTTP_PORT = 8080
MANAGEMENT_PORT = 9000

# How long the keycloak provider waits for one Admin API answer (its default is 5 s). A realm's
# creation right after Keycloak's first start, while MLflow starts beside it on 2 cores, took
# longer than that here and failed the whole `up`.
ADMIN_API_TIMEOUT_SECONDS = 60


def public_paths(realm: str) -> list[str]:
    """What browsers and OIDC clients need of Keycloak on its public name: the realm's
    endpoints and the login pages' static files. The admin console and API stay off it."""
    return [f"/realms/{realm}/", "/resources/"]


def server_options(allow_concurrent_logins: bool) -> dict[str, str]:
    """The stack's run-time options of `kc.sh start` beyond the database and the host names,
    in Keycloak 26's spelling (spi-<spi>--<provider>--<option>)."""
    options: dict[str, str] = {}
    if allow_concurrent_logins:
        options[
            "spi-brute-force-protector--default-brute-force-detector--allow-concurrent-requests"
        ] = "true"
    return options


def env_name(option: str) -> str:
    """An option's environment variable (Keycloak's mapping: KC_, upper case, `-` as `_`)."""
    return "KC_" + option.upper().replace("-", "_")


@dataclass(frozen=True)
class KeycloakAccess:
    """How the stack administers Keycloak: its provider and the master realm's admin."""

    provider: keycloak.Provider
    admin_url: str
    admin_username: str
    admin_password: pulumi.Output[str]
    # What must exist before the admin API answers (the server).
    server: pulumi.Resource


def admin_access(
    name: str,
    admin_url: str,
    admin_username: str,
    admin_password: pulumi.Output[str],
    server: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> KeycloakAccess:
    """The keycloak provider that manages the realm and everything in it as the master realm's
    admin, usable once `server` answers. No login at construction, so a preview works before
    Keycloak exists."""
    provider = keycloak.Provider(
        name,
        url=admin_url,
        realm="master",
        client_id="admin-cli",
        username=admin_username,
        password=admin_password,
        initial_login=False,
        client_timeout=ADMIN_API_TIMEOUT_SECONDS,
        opts=opts,
    )
    return KeycloakAccess(provider, admin_url, admin_username, admin_password, server)
