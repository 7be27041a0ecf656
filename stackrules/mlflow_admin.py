"""mlflow-oidc-auth's admin REST API, as the stack's own admin service account calls it.

Used by the stack (the MlflowAccount dynamic provider) and by `stackctl users disable`; not by
the policy pack. The account signs in with the client-credentials grant of the stack's admin
client; the plugin provisions it as an administrator on its first call.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

USERS_API = "/api/2.0/mlflow/users"
TIMEOUT = httpx.Timeout(30.0)


class AccountError(Exception):
    """Keycloak or the plugin refused or failed; the message says what to check."""


@dataclass(frozen=True)
class AdminClient:
    """Where the plugin and Keycloak's token endpoint answer, and the admin client's login."""

    mlflow_url: str
    token_url: str
    client_id: str
    client_secret: str

    def session(self) -> httpx.Client:
        """An HTTP client of the plugin, signed in with a fresh bearer token."""
        try:
            granted = httpx.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret),
                timeout=TIMEOUT,
            )
        except httpx.HTTPError as error:
            raise AccountError(f"Keycloak at {self.token_url} did not answer: {error}") from None
        if granted.status_code != 200:
            raise AccountError(
                f"Keycloak refused the stack's admin client {self.client_id!r} "
                f"({granted.status_code}: {granted.text[:200]}); is it deployed, with its "
                "service account in MLflow's admin group?"
            )
        token = granted.json()["access_token"]
        return httpx.Client(
            base_url=self.mlflow_url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )


def _checked(response: httpx.Response, what: str) -> httpx.Response:
    if response.is_success:
        return response
    raise AccountError(
        f"mlflow-oidc-auth refused to {what} ({response.status_code}: {response.text[:300]})"
    )


def account_active(api: httpx.Client, username: str) -> bool | None:
    """The plugin's active flag of `username`; None when it has no such user yet."""
    listed = _checked(
        api.get(f"{USERS_API}/details", params={"search": username}), "list its users"
    )
    for user in listed.json():
        if user["username"] == username:
            return bool(user["active"])
    return None


def set_account_active(api: httpx.Client, username: str, active: bool) -> bool:
    """Make the plugin's account of `username` active or not; True when that changed it. A
    person deactivated before their first sign-in gets an inactive account now, so that sign-in
    is refused. Deactivating ends their sessions and deletes their access tokens (the plugin's
    own transaction)."""
    current = account_active(api, username)
    if current is None:
        if active:
            return False  # the plugin creates the account at the first sign-in
        _checked(
            api.post(USERS_API, json={"username": username, "display_name": username}),
            f"create the account of {username}",
        )
    elif current == active:
        return False
    _checked(
        api.patch(f"{USERS_API}/{username}/active", json={"active": active}),
        f"{'activate' if active else 'deactivate'} {username}",
    )
    return True
