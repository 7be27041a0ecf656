"""The Keycloak realm MLflow's users sign in to: token policy, defenses and the audit trail."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.durations import keycloak_duration


class SsoRealmArgs(TypedDict):
    realm: str
    access_token_lifespan_seconds: int
    sso_session_idle_timeout_seconds: int
    sso_session_max_lifespan_seconds: int
    offline_session_idle_timeout_seconds: int
    revoke_refresh_token: bool
    refresh_token_max_reuse: int
    password_policy: str
    brute_force_max_login_failures: int
    events_expiration_seconds: int
    admin_events_expiration_seconds: int
    protect: bool


class SsoRealm(pulumi.ComponentResource):
    """A realm whose token lifetimes, lockout and event retention come from stack config.

    Keycloak stores no events by default and never expires them; both are set here, so the
    audit trail exists and stays bounded.
    """

    realm: keycloak.Realm
    events: keycloak.RealmEvents
    realm_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: SsoRealmArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlflowstack:index:SsoRealm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.realm = keycloak.Realm(
            name,
            realm=args["realm"],
            enabled=True,
            display_name="MLflow",
            access_token_lifespan=keycloak_duration(args["access_token_lifespan_seconds"]),
            sso_session_idle_timeout=keycloak_duration(args["sso_session_idle_timeout_seconds"]),
            sso_session_max_lifespan=keycloak_duration(args["sso_session_max_lifespan_seconds"]),
            offline_session_idle_timeout=keycloak_duration(
                args["offline_session_idle_timeout_seconds"]
            ),
            revoke_refresh_token=args["revoke_refresh_token"],
            refresh_token_max_reuse=args["refresh_token_max_reuse"],
            password_policy=args["password_policy"],
            security_defenses=keycloak.RealmSecurityDefensesArgs(
                brute_force_detection=keycloak.RealmSecurityDefensesBruteForceDetectionArgs(
                    max_login_failures=args["brute_force_max_login_failures"],
                    permanent_lockout=False,
                    wait_increment_seconds=60,
                    max_failure_wait_seconds=900,
                    failure_reset_time_seconds=43200,
                ),
            ),
            attributes={"adminEventsExpiration": str(args["admin_events_expiration_seconds"])},
            opts=pulumi.ResourceOptions(parent=self, protect=args["protect"]),
        )
        self.realm_id = self.realm.id
        self.events = keycloak.RealmEvents(
            f"{name}-events",
            realm_id=self.realm.id,
            events_enabled=True,
            events_expiration=args["events_expiration_seconds"],
            admin_events_enabled=True,
            admin_events_details_enabled=True,
            events_listeners=["jboss-logging"],
            opts=child,
        )
        self.register_outputs({"realm": self.realm.realm})
