"""Every MLflow account against who may sign in now: the people Keycloak still has, enabled,
with a way to sign in, in one of MLflow's groups.

The stack's MlflowAccount resources follow the configured users only. Someone who came in
through a directory (LDAP) or an identity provider has a plugin account the config never
names: deleted from the directory, or left with no way to sign in, their personal access
tokens (valid for a year) and MLflow sessions would live on. `stackctl users reconcile` finds
those accounts and deactivates them (the plugin then deletes their tokens and ends their
sessions) and logs the person out of Keycloak.

Looking a directory person up makes Keycloak check the directory: one deleted there is not
found (the stack's federation has Keycloak's user cache off, so each lookup checks the
directory), so the lookup is the directory sync this needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakGetError

from stackctl.realm import password_credentials
from stackrules.mlflow_admin import USERS_API, AccountError, end_access, set_account_active

Representation = dict[str, Any]


@dataclass(frozen=True)
class Departure:
    """An active MLflow account whose person may no longer sign in (`deactivate`), or may but
    left a group the plugin still judges their tokens by; and why."""

    account: str
    reason: str
    user_id: str | None  # their Keycloak user, when Keycloak still has one
    deactivate: bool = True


def active_accounts(api: httpx.Client) -> list[str]:
    """The plugin's active accounts. The stack's own clients are among them (the plugin
    provisions a bearer caller as a user, named by its username)."""
    return [str(user["username"]) for user in _read(api, f"{USERS_API}/details") if user["active"]]


def _read(api: httpx.Client, path: str) -> Any:
    answered = api.get(path)
    if not answered.is_success:
        raise AccountError(
            f"mlflow-oidc-auth refused GET {path} ({answered.status_code}: {answered.text[:300]})"
        )
    return answered.json()


# Keycloak names a client's service-account user so; the plugin names the account after it.
SERVICE_ACCOUNT_PREFIX = "service-account-"


def _keycloak_user(admin: KeycloakAdmin, account: str) -> Representation | None:
    """The realm's user the account is of. The plugin names people by their email, and
    service accounts (which have none) `service-account-<client id>`: theirs is asked of the
    client, the way Keycloak's API names a client's service-account user."""
    if account.startswith(SERVICE_ACCOUNT_PREFIX):
        client = admin.get_client_id(account.removeprefix(SERVICE_ACCOUNT_PREFIX))
        if client is None or not admin.get_client(client).get("serviceAccountsEnabled"):
            return None
        found: Representation = admin.get_client_service_account_user(client)
        # Keycloak's answer here leaves serviceAccountClientId out (seen on 26.4); it is the
        # client's, which is its way in.
        return {**found, "serviceAccountClientId": account.removeprefix(SERVICE_ACCOUNT_PREFIX)}
    users: list[Representation] = admin.get_users({"email": account, "exact": True})
    matching = [user for user in users if str(user.get("email", "")).lower() == account]
    if not matching:
        return None
    if matching[0].get("federationLink"):
        # Read by id: Keycloak checks a directory person against the directory, and answers
        # 404 for one deleted there.
        try:
            current: Representation = admin.get_user(matching[0]["id"])
        except KeycloakGetError as error:
            if error.response_code == 404:
                return None
            raise
        return current
    return matching[0]


def _way_in(admin: KeycloakAdmin, user: Representation) -> bool:
    """A password of the realm's own, a directory entry, a link to an identity provider, or a
    client whose service account this is."""
    if user.get("federationLink") or user.get("serviceAccountClientId"):
        return True
    if password_credentials(admin, user["id"]):
        return True
    return bool(admin.get_user_social_logins(user["id"]))


def why_departed(
    admin: KeycloakAdmin, api: httpx.Client, account: str, mlflow_groups: set[str]
) -> Departure | None:
    """None while the account's person may still sign in with every MLflow group the plugin
    holds for them; else what changed."""
    user = _keycloak_user(admin, account)
    if user is None:
        reason = "no such user in Keycloak (deleted, or gone from the directory)"
        return Departure(account, reason, None)
    user_id = str(user["id"])
    if not user.get("enabled", True):
        return Departure(account, "disabled in Keycloak", user_id)
    if not _way_in(admin, user):
        reason = "no password, directory entry or identity provider left"
        return Departure(account, reason, user_id)
    held = {str(group["name"]) for group in admin.get_user_groups(user_id)} & mlflow_groups
    if not held:
        return Departure(account, "in none of MLflow's groups", user_id)
    stored = {str(group["group_name"]) for group in _read(api, f"{USERS_API}/{account}")["groups"]}
    left = sorted((stored & mlflow_groups) - held)
    if left:
        return Departure(account, f"left {', '.join(left)}", user_id, deactivate=False)
    return None


def departures(
    admin: KeycloakAdmin, api: httpx.Client, mlflow_groups: Iterable[str]
) -> list[Departure]:
    """Every active account whose person (or client) may no longer sign in, or left a group."""
    groups = set(mlflow_groups)
    found = (why_departed(admin, api, account, groups) for account in active_accounts(api))
    return [gone for gone in found if gone is not None]


def offboard(admin: KeycloakAdmin, api: httpx.Client, departure: Departure) -> None:
    """Deactivate the account (the plugin deletes its tokens and ends its sessions), or, for
    someone who only left a group, delete their tokens and end their sessions (their next
    sign-in carries what they hold now); log them out of Keycloak either way."""
    if departure.deactivate:
        set_account_active(api, departure.account, False)
    else:
        end_access(api, departure.account)
    if departure.user_id is not None:
        admin.user_logout(departure.user_id)
