"""Are the stack's two services answering? Keycloak's realm discovery and MLflow's /health."""

from __future__ import annotations

import ssl
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakConnectionError, KeycloakError

from stackctl.outputs import StackOutputs

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    url: str
    healthy: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def keycloak_health(outputs: StackOutputs) -> ServiceHealth:
    """Ready means the realm's discovery document answers with the issuer tokens will carry."""
    url = outputs.keycloak_url
    openid = KeycloakOpenID(
        server_url=url,
        realm_name=outputs.realm,
        client_id=outputs.client_id,
        timeout=TIMEOUT_SECONDS,
        verify=outputs.ca_bundle(),
    )
    try:
        issuer = str(openid.well_known().get("issuer"))
    except KeycloakConnectionError:
        return ServiceHealth("keycloak", url, False, "unreachable")
    except KeycloakError as error:
        return ServiceHealth(
            "keycloak", url, False, f"realm {outputs.realm!r} discovery: HTTP {error.response_code}"
        )
    if issuer != outputs.issuer:
        return ServiceHealth(
            "keycloak", url, False, f"issuer {issuer} differs from the stack's {outputs.issuer}"
        )
    return ServiceHealth("keycloak", url, True, f"realm {outputs.realm!r} ready, issuer {issuer}")


def mlflow_health(outputs: StackOutputs) -> ServiceHealth:
    url = outputs.mlflow_url
    try:
        ca = outputs.ca_bundle()
        verify = ssl.create_default_context(cafile=ca) if isinstance(ca, str) else True
        answer = httpx.get(
            f"{url}/health", timeout=TIMEOUT_SECONDS, follow_redirects=False, verify=verify
        )
    except httpx.TransportError as error:
        return ServiceHealth("mlflow", url, False, f"unreachable ({type(error).__name__})")
    body = " ".join(answer.text.split())[:60]
    return ServiceHealth(
        "mlflow", url, answer.status_code == 200, f"/health: HTTP {answer.status_code} {body}"
    )
