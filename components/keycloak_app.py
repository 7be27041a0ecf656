"""Keycloak as every target runs it: its ports, what it publishes, the stack's server options
and how long the stack waits for its admin API. The Docker container (docker/keycloak_server.py)
and the operator's Keycloak (kubernetes/keycloak_cluster.py) both take these as they are."""

from __future__ import annotations

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
