"""The Keycloak realm MLflow's users sign in to: token policy, defenses and the audit trail."""

from __future__ import annotations

from typing import Literal, TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent, data_options
from stackconfig import RealmConfig
from stackrules.durations import keycloak_duration

# Keycloak's four root attributes as its default user profile declares them (26.4), except that
# only an admin may change an email: MLflow's plugin names its accounts by the email claim, so a
# person who could edit their own email could take a departed colleague's and sign in to the
# MLflow account, experiments and grants that person left behind (review finding 6).
_ADMIN_AND_USER = ["admin", "user"]
_NAME_LENGTH = keycloak.RealmUserProfileAttributeValidatorArgs(name="length", config={"max": "255"})
_ROOT_ATTRIBUTES = [
    keycloak.RealmUserProfileAttributeArgs(
        name="username",
        display_name="${username}",
        permissions=keycloak.RealmUserProfileAttributePermissionsArgs(
            views=_ADMIN_AND_USER, edits=_ADMIN_AND_USER
        ),
        validators=[
            keycloak.RealmUserProfileAttributeValidatorArgs(
                name="length", config={"min": "3", "max": "255"}
            ),
            keycloak.RealmUserProfileAttributeValidatorArgs(name="username-prohibited-characters"),
            keycloak.RealmUserProfileAttributeValidatorArgs(name="up-username-not-idn-homograph"),
        ],
    ),
    keycloak.RealmUserProfileAttributeArgs(
        name="email",
        display_name="${email}",
        required_for_roles=["user"],
        permissions=keycloak.RealmUserProfileAttributePermissionsArgs(
            views=_ADMIN_AND_USER, edits=["admin"]
        ),
        validators=[keycloak.RealmUserProfileAttributeValidatorArgs(name="email"), _NAME_LENGTH],
    ),
    *(
        keycloak.RealmUserProfileAttributeArgs(
            name=name,
            display_name=f"${{{name}}}",
            required_for_roles=["user"],
            permissions=keycloak.RealmUserProfileAttributePermissionsArgs(
                views=_ADMIN_AND_USER, edits=_ADMIN_AND_USER
            ),
            validators=[
                _NAME_LENGTH,
                keycloak.RealmUserProfileAttributeValidatorArgs(
                    name="person-name-prohibited-characters"
                ),
            ],
        )
        for name in ("firstName", "lastName")
    ),
]
_METADATA_GROUP = keycloak.RealmUserProfileGroupArgs(
    name="user-metadata",
    display_header="User metadata",
    display_description="Attributes, which refer to user metadata",
)


class SsoRealmArgs(TypedDict):
    settings: RealmConfig
    ssl_required: Literal["external", "all"]
    protect: bool


class SsoRealm(StackComponent):
    """A realm whose token lifetimes, lockout and event retention come from stack config.

    Keycloak stores no events by default and never expires them; both are set here, so the
    audit trail exists and stays bounded. Its user profile lets only an admin change an email.
    """

    realm: keycloak.Realm
    events: keycloak.RealmEvents
    user_profile: keycloak.RealmUserProfile
    realm_id: pulumi.Output[str]

    def __init__(self, name: str, args: SsoRealmArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        settings = args["settings"]
        self.realm = keycloak.Realm(
            name,
            realm=settings.realm,
            enabled=True,
            display_name="MLflow",
            access_token_lifespan=keycloak_duration(settings.access_token_lifespan),
            sso_session_idle_timeout=keycloak_duration(settings.sso_session_idle_timeout),
            sso_session_max_lifespan=keycloak_duration(settings.sso_session_max_lifespan),
            offline_session_idle_timeout=keycloak_duration(settings.offline_session_idle_timeout),
            revoke_refresh_token=settings.revoke_refresh_token,
            refresh_token_max_reuse=settings.refresh_token_max_reuse,
            password_policy=settings.password_policy,
            remember_me=settings.remember_me,
            login_with_email_allowed=settings.login_with_email_allowed,
            ssl_required=args["ssl_required"],
            security_defenses=keycloak.RealmSecurityDefensesArgs(
                brute_force_detection=keycloak.RealmSecurityDefensesBruteForceDetectionArgs(
                    max_login_failures=settings.brute_force_max_login_failures,
                    permanent_lockout=False,
                    wait_increment_seconds=60,
                    max_failure_wait_seconds=900,
                    failure_reset_time_seconds=43200,
                ),
            ),
            attributes={"adminEventsExpiration": str(settings.seconds("admin_events_expiration"))},
            opts=data_options(self, args["protect"]),
        )
        self.realm_id = self.realm.id
        self.events = keycloak.RealmEvents(
            f"{name}-events",
            realm_id=self.realm.id,
            events_enabled=True,
            events_expiration=settings.seconds("events_expiration"),
            admin_events_enabled=True,
            admin_events_details_enabled=True,
            events_listeners=["jboss-logging"],
            opts=self.child,
        )
        self.user_profile = keycloak.RealmUserProfile(
            f"{name}-user-profile",
            realm_id=self.realm.id,
            attributes=_ROOT_ATTRIBUTES,
            groups=[_METADATA_GROUP],
            opts=self.child,
        )
        self.register_outputs({"realm": self.realm.realm})
