"""mlflow-oidc-auth's admin REST API, as the stack's own admin service account calls it.

Used by the stack (the MlflowAccount and MlflowPermission dynamic providers) and by
`stackctl users disable`; not by the policy pack. The account signs in with the
client-credentials grant of the stack's admin client; the plugin provisions it as an
administrator on its first call.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from stackrules.mlflow_permissions import PATTERN_ROUTES, SUBJECT_ROUTES

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


def end_access(api: httpx.Client, username: str) -> tuple[int, int] | None:
    """Delete every access token of `username` and end their MLflow sessions: what they may do
    is then decided anew at their next sign-in, where the plugin reads their groups again.
    Returns (tokens, sessions) ended; None when the plugin has no such user yet."""
    if account_active(api, username) is None:
        return None
    tokens = _checked(
        api.delete(f"{USERS_API}/{username}/tokens"), f"revoke the access tokens of {username}"
    )
    sessions = _checked(
        api.delete(f"{USERS_API}/{username}/sessions"), f"end the sessions of {username}"
    )
    return int(tokens.json()["revoked"]), int(sessions.json()["revoked"])


PERMISSIONS_API = "/api/2.0/mlflow/permissions"


@dataclass(frozen=True)
class PatternGrant:
    """One of the plugin's pattern grants, as its API reports it."""

    id: str
    regex: str
    priority: int
    permission: str


def _patterns_path(subject_kind: str, subject: str, kind: str) -> str:
    return (
        f"{PERMISSIONS_API}/{SUBJECT_ROUTES[subject_kind]}/{quote(subject, safe='')}"
        f"/{PATTERN_ROUTES[kind]}"
    )


def ensure_subject(api: httpx.Client, subject_kind: str, subject: str) -> None:
    """The plugin grants only to groups and users it knows; a team or person who has not
    signed in yet is created (both calls leave an existing one as it is)."""
    if subject_kind == "group":
        _checked(
            api.post(f"{PERMISSIONS_API}/groups", json={"group_name": subject}),
            f"create the group {subject}",
        )
    elif account_active(api, subject) is None:
        _checked(
            api.post(USERS_API, json={"username": subject, "display_name": subject}),
            f"create the account of {subject}",
        )


def list_pattern_grants(
    api: httpx.Client, subject_kind: str, subject: str, kind: str
) -> list[PatternGrant]:
    listed = _checked(
        api.get(_patterns_path(subject_kind, subject, kind)),
        f"list the {kind} pattern grants of {subject}",
    )
    return [
        PatternGrant(str(item["id"]), item["regex"], int(item["priority"]), item["permission"])
        for item in listed.json()
    ]


def create_pattern_grant(
    api: httpx.Client, subject_kind: str, subject: str, kind: str, grant: PatternGrant
) -> PatternGrant:
    """Create the grant and return it with the id the plugin gave it (its create call answers
    with a message only, so the id is read back from the list)."""
    ensure_subject(api, subject_kind, subject)
    before = {found.id for found in list_pattern_grants(api, subject_kind, subject, kind)}
    _checked(
        api.post(_patterns_path(subject_kind, subject, kind), json=_body(grant)),
        f"grant {grant.permission} on {kind} matching {grant.regex!r} to {subject}",
    )
    created = [
        found
        for found in list_pattern_grants(api, subject_kind, subject, kind)
        if found.id not in before and found.regex == grant.regex
    ]
    if len(created) != 1:
        raise AccountError(
            f"mlflow-oidc-auth accepted the grant on {kind} matching {grant.regex!r} to "
            f"{subject}, but {len(created)} new grants of that pattern are listed"
        )
    return created[0]


def read_pattern_grant(
    api: httpx.Client, subject_kind: str, subject: str, kind: str, grant_id: str
) -> PatternGrant | None:
    """The grant as the plugin holds it now; None when it is gone (deleted in the UI)."""
    for found in list_pattern_grants(api, subject_kind, subject, kind):
        if found.id == grant_id:
            return found
    return None


def update_pattern_grant(
    api: httpx.Client, subject_kind: str, subject: str, kind: str, grant: PatternGrant
) -> None:
    _checked(
        api.patch(f"{_patterns_path(subject_kind, subject, kind)}/{grant.id}", json=_body(grant)),
        f"update the {kind} grant {grant.id} of {subject}",
    )


def delete_pattern_grant(
    api: httpx.Client, subject_kind: str, subject: str, kind: str, grant_id: str
) -> None:
    """Delete the grant; one already gone is fine (the end state is the same)."""
    if read_pattern_grant(api, subject_kind, subject, kind, grant_id) is None:
        return
    _checked(
        api.delete(f"{_patterns_path(subject_kind, subject, kind)}/{grant_id}"),
        f"delete the {kind} grant {grant_id} of {subject}",
    )


def _body(grant: PatternGrant) -> dict[str, object]:
    return {"regex": grant.regex, "priority": grant.priority, "permission": grant.permission}
