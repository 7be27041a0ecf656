"""The deployed realm through python-keycloak: token policy, sessions, revocation, audit trail.

Functions take a KeycloakAdmin (or the outputs to build one) and return Keycloak's own
representations as plain dicts; turning them into tables is the views' business.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from keycloak import KeycloakAdmin
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakConnectionError,
    KeycloakDeleteError,
    KeycloakError,
    KeycloakGetError,
    raise_error_from_response,
)

from stackctl.errors import StackctlError
from stackctl.outputs import StackOutputs
from stackrules.names import UPDATE_PASSWORD

Representation = dict[str, Any]
TIMEOUT_SECONDS = 15
# python-keycloak 7.1.1 wraps no call for "delete one session"; its authenticated connection
# sends Keycloak's own endpoint, so no token or URL is handled here.
URL_ADMIN_SESSION = "admin/realms/{realm-name}/sessions/{session}"


def connect(outputs: StackOutputs, realm: str | None = None) -> KeycloakAdmin:
    """An admin client of `realm` (default: the stack's): as stackctl's own realm-scoped
    account when the stack has one, else as the master realm's bootstrap admin."""
    if outputs.stackctl_client_id and outputs.stackctl_client_secret and realm is None:
        return KeycloakAdmin(
            server_url=outputs.keycloak_admin,
            client_id=outputs.stackctl_client_id,
            client_secret_key=outputs.stackctl_client_secret.get_secret_value(),
            realm_name=outputs.realm,
            user_realm_name=outputs.realm,
            timeout=TIMEOUT_SECONDS,
        )
    return KeycloakAdmin(
        server_url=outputs.keycloak_admin,
        username=outputs.keycloak_admin_username,
        password=outputs.keycloak_admin_password.get_secret_value(),
        realm_name=realm or outputs.realm,
        user_realm_name="master",
        timeout=TIMEOUT_SECONDS,
    )


def _reason(error: KeycloakError) -> str:
    message = error.error_message
    if isinstance(message, bytes):
        message = message.decode(errors="replace")
    return " ".join(str(message).split())[:200]


@contextmanager
def keycloak_errors(outputs: StackOutputs) -> Iterator[None]:
    """Turn python-keycloak's exceptions into one line naming Keycloak's URL and the fix."""
    url = outputs.keycloak_admin
    try:
        yield
    except KeycloakConnectionError:
        raise StackctlError(
            f"Keycloak at {url} is unreachable; is the stack up? (scripts/up.sh)"
        ) from None
    except KeycloakAuthenticationError as error:
        raise StackctlError(
            f"Keycloak at {url} refused the stack's admin login "
            f"({outputs.keycloak_admin_username!r} in realm master): {_reason(error)}; "
            "the outputs may belong to an older deployment (scripts/up.sh)"
        ) from None
    except KeycloakError as error:
        reason = _reason(error)
        if error.response_code == 404 and "Realm not found" in reason:
            raise StackctlError(
                f"Keycloak at {url} has no realm {outputs.realm!r}; is this the stack's "
                "Keycloak? (scripts/up.sh creates the realm)"
            ) from None
        raise StackctlError(
            f"Keycloak at {url} answered HTTP {error.response_code}: {reason}"
        ) from None


# -- realm settings -------------------------------------------------------------------------


def realm_settings(admin: KeycloakAdmin, realm: str) -> Representation:
    """The RealmRepresentation: token lifespans, brute force, event storage as deployed."""
    return admin.get_realm(realm)


def _existing(admin: KeycloakAdmin, found: str | None, what: str) -> str:
    if found is None:
        raise StackctlError(f"no {what} in realm {admin.get_current_realm()!r}")
    return found


def user_id(admin: KeycloakAdmin, username: str) -> str:
    return _existing(admin, admin.get_user_id(username), f"user {username!r}")


def client_uuid(admin: KeycloakAdmin, client_id: str) -> str:
    return _existing(admin, admin.get_client_id(client_id), f"client {client_id!r}")


# -- sessions -------------------------------------------------------------------------------


def all_sessions(admin: KeycloakAdmin) -> list[Representation]:
    """Every online session of the realm: per client with sessions, deduplicated.

    Keycloak lists sessions per user or per client only; the session statistics name the
    clients that have any, which is cheaper than asking every user.
    """
    sessions: dict[str, Representation] = {}
    for stats in admin.get_client_sessions_stats():
        for session in admin.get_client_all_sessions(str(stats["id"])):
            sessions.setdefault(str(session["id"]), session)
    return newest_first(sessions.values(), "lastAccess")


def list_sessions(
    admin: KeycloakAdmin, username: str | None = None, client_id: str | None = None
) -> list[Representation]:
    """Sessions of a user, of a client, of a user in a client, or of the whole realm."""
    if username is not None:
        sessions = admin.get_sessions(user_id(admin, username))
        if client_id is not None:
            client_uuid(admin, client_id)  # an unknown client is an error, not "no sessions"
            sessions = [s for s in sessions if client_id in (s.get("clients") or {}).values()]
        return newest_first(sessions, "lastAccess")
    if client_id is not None:
        return newest_first(
            admin.get_client_all_sessions(client_uuid(admin, client_id)), "lastAccess"
        )
    return all_sessions(admin)


@dataclass(frozen=True)
class Revocation:
    """What a revoke ends, computed before asking for confirmation."""

    scope: Literal["user", "session", "all-users"]
    sessions: list[Representation]
    user_ids: dict[str, str]  # username -> user id, of every user whose sessions end

    def counts(self) -> dict[str, int]:
        """Sessions per username, users without sessions included (they are logged out too)."""
        counts = dict.fromkeys(self.user_ids, 0)
        for session in self.sessions:
            name = str(session.get("username") or session.get("userId"))
            counts[name] = counts.get(name, 0) + 1
        return counts


def plan_user_revocation(admin: KeycloakAdmin, username: str) -> Revocation:
    found = user_id(admin, username)
    # Keycloak stores usernames in lower case, and sessions carry the stored name.
    return Revocation("user", admin.get_sessions(found), {username.lower(): found})


def plan_session_revocation(admin: KeycloakAdmin, session_id: str) -> Revocation:
    match = [s for s in all_sessions(admin) if s.get("id") == session_id]
    if not match:
        realm = admin.get_current_realm()
        raise StackctlError(
            f"no active session {session_id!r} in realm {realm!r} (see: stackctl sessions list)"
        )
    return Revocation("session", match, {})


def plan_all_users_revocation(admin: KeycloakAdmin) -> Revocation:
    sessions = all_sessions(admin)
    users = {str(s.get("username") or s["userId"]): str(s["userId"]) for s in sessions}
    return Revocation("all-users", sessions, users)


def revoke(admin: KeycloakAdmin, plan: Revocation) -> None:
    """Log users out (every session, and their refresh tokens), or delete the one session."""
    if plan.scope == "session":
        session_id = str(plan.sessions[0]["id"])
        path = URL_ADMIN_SESSION.format(
            **{"realm-name": admin.get_current_realm(), "session": session_id}
        )
        raise_error_from_response(
            admin.connection.raw_delete(path), KeycloakDeleteError, expected_codes=[204]
        )
        return
    for found in plan.user_ids.values():
        admin.user_logout(found)


@dataclass(frozen=True)
class Disabled:
    """What `disable_user` did: sessions ended, and the email mlflow-oidc-auth knows them by."""

    sessions: int
    email: str | None


def disable_user(admin: KeycloakAdmin, username: str) -> Disabled:
    """Disable the user (no new sign-in, no token refresh) and end every session of theirs."""
    found = user_id(admin, username)
    sessions = admin.get_sessions(found)
    email = admin.get_user(found).get("email")
    admin.update_user(found, {"enabled": False})
    admin.user_logout(found)
    return Disabled(len(sessions), _plugin_name(email))


def enable_user(admin: KeycloakAdmin, username: str) -> str | None:
    """Let the user sign in again; their email (how mlflow-oidc-auth names them), if any."""
    found = user_id(admin, username)
    email = admin.get_user(found).get("email")
    admin.update_user(found, {"enabled": True})
    return _plugin_name(email)


def people(admin: KeycloakAdmin) -> list[Representation]:
    """Everyone in the realm, as `users list` shows them: enabled or not, their groups, where
    they come from, and the name mlflow-oidc-auth knows them by."""
    found: list[Representation] = admin.get_users({})
    rows = []
    for user in sorted(found, key=lambda user: str(user.get("username"))):
        links = admin.get_user_social_logins(user["id"])
        if user.get("serviceAccountClientId"):
            source = f"service account of {user['serviceAccountClientId']}"
        elif user.get("federationLink"):
            source = "directory"
        elif links:
            source = "identity provider " + ", ".join(link["identityProvider"] for link in links)
        else:
            source = "realm"
        rows.append(
            {
                "username": user.get("username"),
                "email": _plugin_name(user.get("email")),
                "enabled": bool(user.get("enabled")),
                "groups": sorted(group["name"] for group in admin.get_user_groups(user["id"])),
                "source": source,
                "createdTimestamp": user.get("createdTimestamp"),
            }
        )
    return rows


def email_of(admin: KeycloakAdmin, username: str) -> str | None:
    """The name mlflow-oidc-auth knows the user by (their email), if they have one."""
    return _plugin_name(admin.get_user(user_id(admin, username)).get("email"))


def _plugin_name(email: str | None) -> str | None:
    """mlflow-oidc-auth's name of a person: their email, lower-cased."""
    return email.lower() if email else None


# -- audit trail ----------------------------------------------------------------------------


def _since_millis(since_seconds: int | None) -> dict[str, str]:
    if since_seconds is None:
        return {}
    return {"dateFrom": str(int((time.time() - since_seconds) * 1000))}


def login_events(
    admin: KeycloakAdmin,
    event_type: str | None = None,
    username: str | None = None,
    since_seconds: int | None = None,
    limit: int = 50,
) -> list[Representation]:
    """Stored login events (LOGIN, LOGOUT, LOGIN_ERROR, ...), newest first, at most `limit`."""
    query: dict[str, Any] = {"first": 0, "max": limit, **_since_millis(since_seconds)}
    if event_type:
        query["type"] = event_type.upper()
    if username:
        query["user"] = user_id(admin, username)
    return newest_first(admin.get_events(query), "time")[:limit]


def admin_events(
    admin: KeycloakAdmin, since_seconds: int | None = None, limit: int = 50
) -> list[Representation]:
    """Stored admin events (who changed what through the Admin API), newest first."""
    query: dict[str, Any] = {"first": 0, "max": limit, **_since_millis(since_seconds)}
    return newest_first(admin.get_admin_events(query), "time")[:limit]


def event_user_ids(events: Iterable[Representation]) -> set[str]:
    """User ids an event names without a username: the subject of login events, the actor
    (authDetails) of admin events."""
    ids = set()
    for event in events:
        if event.get("userId") and not (event.get("details") or {}).get("username"):
            ids.add(str(event["userId"]))
        actor = (event.get("authDetails") or {}).get("userId")
        if actor:
            ids.add(str(actor))
    return ids


def usernames(admins: Sequence[KeycloakAdmin], ids: Iterable[str]) -> dict[str, str]:
    """Usernames of user ids, looked up in each realm in turn (the admin lives in master)."""
    names: dict[str, str] = {}
    for wanted in ids:
        for admin in admins:
            try:
                names[wanted] = str(admin.get_user(wanted)["username"])
                break
            except KeycloakGetError:
                continue
    return names


def newest_first(items: Iterable[Representation], key: str) -> list[Representation]:
    return sorted(items, key=lambda item: int(item.get(key) or 0), reverse=True)


# -- temporary passwords --------------------------------------------------------------------

DAY_MILLIS = 86_400_000


def password_credentials(admin: KeycloakAdmin, user_id: str) -> list[Representation]:
    """The user's passwords of the realm's own (not OTP or other credentials)."""
    creds: list[Representation] = admin.get_credentials(user_id)
    return [cred for cred in creds if cred.get("type") == "password"]


def unused_initial_passwords(
    admin: KeycloakAdmin, days: int, username: str | None = None
) -> list[Representation]:
    """The users created at least `days` ago who still hold a temporary password they never
    replaced: nobody signed in as them, and whoever reads it in the stack's outputs could."""
    cutoff = time.time() * 1000 - days * DAY_MILLIS
    query = {"username": username, "exact": True} if username else {}
    users: list[Representation] = admin.get_users(query)
    return [
        user
        for user in users
        if UPDATE_PASSWORD in user.get("requiredActions", [])
        and int(user.get("createdTimestamp", 0)) <= cutoff
        and password_credentials(admin, user["id"])
    ]


def expire_initial_password(admin: KeycloakAdmin, user: Representation) -> None:
    """Delete the unused temporary password and its UPDATE_PASSWORD action: it signs nobody
    in any more, and leaves `userInitialPasswords` at the next `up`. An admin gives the person
    a new temporary password when they ask (console: Users, Credentials, Reset password)."""
    for cred in password_credentials(admin, user["id"]):
        admin.delete_credential(user["id"], cred["id"])
    actions = [action for action in user.get("requiredActions", []) if action != UPDATE_PASSWORD]
    admin.update_user(user["id"], {**user, "requiredActions": actions})
    admin.user_logout(user["id"])
