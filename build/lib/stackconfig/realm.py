"""The realm's settings: token lifetimes, sessions, passwords, lockout and event retention.

Declared once: StackConfig is a RealmConfig, and the realm component reads it as one. A new
realm setting is a field here and its use in components/identity/sso_realm.py.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stackconfig.base import ConfigModel
from stackconfig.types import Name, within
from stackrules.durations import ACCESS_TOKEN_LIFESPAN_BOUNDS, DAY, parse_duration


class RealmConfig(ConfigModel):
    """The realm MLflow's users sign in to."""

    realm: Name = "mlflow"
    """Keycloak realm MLflow's users sign in to."""
    access_token_lifespan: Annotated[str, within(*ACCESS_TOKEN_LIFESPAN_BOUNDS)] = "5m"
    """Access token lifespan (10s..15m, the policy pack's bound too). MLflow access ends at most
    this long (+30 s) after revocation."""
    sso_session_idle_timeout: Annotated[str, within(60, 30 * DAY)] = "30m"
    """SSO session idle timeout (>= access token lifespan)."""
    sso_session_max_lifespan: Annotated[str, within(60, 365 * DAY)] = "10h"
    """SSO session max lifespan (>= idle timeout)."""
    offline_session_idle_timeout: Annotated[str, within(3600, 365 * DAY)] = "30d"
    """Offline session idle timeout."""
    revoke_refresh_token: bool = True
    """Refresh tokens are single use (rotation)."""
    refresh_token_max_reuse: Annotated[int, Field(ge=0, le=10)] = 0
    """How often a refresh token may be reused when revokeRefreshToken is on."""
    password_policy: str = "length(12) and notUsername and notEmail"
    """Keycloak password policy of the realm."""
    brute_force_max_login_failures: Annotated[int, Field(ge=1, le=100)] = 5
    """Failed logins before a temporary lockout (brute-force detection is always on)."""
    brute_force_allow_concurrent_logins: bool = False
    """Let logins of one user run at the same time. Off (Keycloak's default), Keycloak's
    brute-force detector refuses a login while another login of the same user is in progress
    (reported as `user_temporarily_disabled`; the refusal is not counted as a failure), so
    parallel password guesses cannot outrun the failure count. Turn on only for accounts that
    sign in from many places at once; scripts are better served by tokens."""
    remember_me: bool = False
    """Offer "Remember me" on the login page (sessions then outlive the browser)."""
    login_with_email_allowed: bool = True
    """Let people sign in with their email address as well as their username (Keycloak's
    default); false: the username only."""
    events_expiration: Annotated[str, within(3600, 3650 * DAY)] = "7d"
    """How long login events are kept."""
    admin_events_expiration: Annotated[str, within(3600, 3650 * DAY)] = "30d"
    """How long admin events are kept."""

    def seconds(self, field: str) -> int:
        """A duration field in seconds."""
        return parse_duration(getattr(self, field))
