"""A token for scripts and CI from the stack's automation (service-account) client."""

from __future__ import annotations

import time
from dataclasses import dataclass

from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError
from pydantic import SecretStr

from stackctl.errors import StackctlError
from stackctl.outputs import StackOutputs

TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class AutomationToken:
    client_id: str
    access_token: SecretStr
    expires_at: float  # epoch seconds

    @property
    def expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))


def enable_hint(stack: str) -> str:
    return (
        f"stack {stack!r} has no automation client; enable one with: "
        f"scripts/pulumi.sh config set automationClientId mlflow-automation --stack {stack} "
        f"&& scripts/up.sh {stack}"
    )


def automation_token(outputs: StackOutputs, stack: str) -> AutomationToken:
    """A client-credentials token; MLflow accepts it like a member of the user group's."""
    if not outputs.automation_client_id or outputs.automation_client_secret is None:
        raise StackctlError(enable_hint(stack))
    openid = KeycloakOpenID(
        server_url=outputs.keycloak_url,
        realm_name=outputs.realm,
        client_id=outputs.automation_client_id,
        client_secret_key=outputs.automation_client_secret.get_secret_value(),
        timeout=TIMEOUT_SECONDS,
    )
    asked = time.time()
    try:
        granted = openid.token(grant_type="client_credentials")
    except (KeycloakAuthenticationError, KeycloakPostError) as error:
        raise StackctlError(
            f"Keycloak at {outputs.keycloak_url} refused client "
            f"{outputs.automation_client_id!r} (HTTP {error.response_code}); the outputs may "
            f"belong to an older deployment: scripts/up.sh {stack}"
        ) from None
    return AutomationToken(
        client_id=outputs.automation_client_id,
        access_token=SecretStr(str(granted["access_token"])),
        expires_at=asked + int(granted.get("expires_in", 0)),
    )
