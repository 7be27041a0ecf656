"""The stack's configuration: the only module that reads `pulumi.Config`.

Every key, its default and its bounds live here, so a bad value fails `pulumi preview` before a
single resource is created, with a message naming the key, the value and the fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.config_model import ConfigModel
from components.kubernetes_config import KubernetesSpec, kubernetes_errors
from stackrules.addresses import is_loopback
from stackrules.durations import LIFESPAN_BOUNDS, format_duration, parse_duration
from stackrules.images import pinning_problem, tag_major
from stackrules.mlflow_permissions import (
    Level,
    ResourceKind,
    SubjectKind,
    exact_name_pattern,
    pattern_problem,
)
from stackrules.names import NAMESPACE
from stackrules.versions import pin

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

Port = Annotated[int, Field(ge=1, le=65535)]
MlflowPermission = Level
TlsMode = Literal["off", "internal", "files", "acme"]


class ConfigError(pulumi.RunError):
    """One or more stack config values are wrong; the message says which and how to fix them.

    A RunError, so `pulumi preview` prints the message without a Python traceback.
    """


# pulumi-language-python-exec's code for "exited after showing the user an actionable message".
MESSAGE_SHOWN_EXIT_CODE = 32


def check_image_reference(value: str) -> str:
    """An image must be pinned: a tag other than `latest`, or a digest."""
    problem = pinning_problem(value)
    if problem is not None:
        raise ValueError(f"{problem}; pin a version tag such as 'postgres:17.7-trixie'")
    return value


class UserSpec(ConfigModel):
    """A person who may sign in to MLflow."""

    username: str
    email: str
    # Required: Keycloak's user profile would otherwise stop the first sign-in to ask for them.
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    groups: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    """Teams (names from `teams`) the person belongs to; any team admits them to MLflow."""
    enabled: bool = True
    """false: the person is locked out (Keycloak user disabled, MLflow account deactivated,
    their sessions and tokens ended) but kept, e.g. after `stackctl users disable`."""

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME_PATTERN.match(value):
            raise ValueError(
                "must be lower-case letters, digits, '.', '_' or '-', starting with a letter "
                "or digit (Keycloak lower-cases usernames)"
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL_PATTERN.match(value):
            raise ValueError("is not an email address like 'ada@example.com'")
        return value


class TeamSpec(ConfigModel):
    """A team: a Keycloak group whose name the `groups` claim carries, the subject of
    `permissions` entries."""

    name: str
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-' (at most 63)")
        return value


class PermissionSpec(ConfigModel):
    """One MLflow permission: a team or a user, a kind of resource, a name or pattern, a level."""

    team: str | None = None
    user: str | None = None
    """A configured person's username (instead of team)."""
    resource: ResourceKind
    name: str | None = None
    """One exact resource name (it need not exist yet)."""
    pattern: str | None = None
    """A Python regular expression matched at the start of names (`^ds-`), as the plugin does."""
    level: Level
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 100
    """Where patterns of one person overlap, the lowest priority number decides."""

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        problem = None if value is None else pattern_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_of_each(self) -> PermissionSpec:
        if (self.team is None) == (self.user is None):
            raise ValueError("set exactly one of team and user")
        if (self.name is None) == (self.pattern is None):
            raise ValueError("set exactly one of name (exact) and pattern (regular expression)")
        return self

    @property
    def subject_kind(self) -> SubjectKind:
        return "group" if self.team is not None else "user"

    @property
    def subject(self) -> str:
        return self.team if self.team is not None else str(self.user)

    @property
    def regex(self) -> str:
        """The plugin's selector of this entry."""
        return exact_name_pattern(self.name) if self.name is not None else str(self.pattern)

    @property
    def key(self) -> str:
        """What identifies the entry (two entries with one key would fight over one grant)."""
        return f"{self.subject_kind}:{self.subject}:{self.resource}:{self.regex}"


class IdentityProviderSpec(ConfigModel):
    """A corporate OpenID Connect IdP whose people sign in to MLflow through Keycloak
    (identity brokering), with a button of its own on the login page."""

    alias: str
    """Keycloak's name of the IdP (in its redirect URI: <keycloak>/realms/<realm>/broker/
    <alias>/endpoint, which the IdP's client must accept)."""
    display_name: str | None = None
    """The login page's button text (default: the alias)."""
    discovery_url: str
    """The IdP's OpenID discovery document, as Keycloak's container reaches it."""
    client_id: str
    client_secret: str
    """Set it as a secret: pulumi config set --secret --path 'identityProviders[0].clientSecret'."""
    team_claim: str = "groups"
    """The IdP's claim that lists a person's groups."""
    teams: dict[str, str] = Field(default_factory=dict)
    """Which claim value makes a person a member of which team: {corp-group: team}."""

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-' (at most 63)")
        return value

    @field_validator("discovery_url")
    @classmethod
    def _discovery(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+/.*\.well-known/openid-configuration$", value):
            raise ValueError(
                "is not an OpenID discovery URL (https://idp.example.com/.../.well-known/"
                "openid-configuration)"
            )
        return value


class LdapSpec(ConfigModel):
    """An LDAP / Active Directory user federation: its people sign in to MLflow with their
    directory password, and directory groups named like a team make them its members."""

    name: str = "ldap"
    """Keycloak's name of the federation (one per directory)."""
    connection_url: str
    """ldaps://host:636 (or ldap://host:389 with startTls) as Keycloak's container reaches it."""
    start_tls: bool = False
    bind_dn: str
    """The DN Keycloak binds as to search the directory."""
    bind_password: str
    """Set it as a secret: pulumi config set --secret --path 'ldap[0].bindPassword'."""
    users_dn: str
    """Where the people are (ou=people,dc=corp,dc=example)."""
    username_attribute: str = "uid"
    """sAMAccountName for Active Directory."""
    uuid_attribute: str = "entryUUID"
    """objectGUID for Active Directory."""
    user_object_classes: tuple[str, ...] = ("inetOrgPerson",)
    vendor: Literal["other", "ad", "rhds", "tivoli", "edirectory"] = "other"
    groups_dn: str | None = None
    """Where the groups are (ou=groups,...); groups whose cn is a team name make their members
    that team's members. Unset: no groups are read."""
    group_object_class: str = "groupOfNames"
    edit_mode: Literal["READ_ONLY", "WRITABLE", "UNSYNCED"] = "READ_ONLY"
    """READ_ONLY: Keycloak never writes to the directory (passwords change there)."""

    @field_validator("connection_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^ldaps?://[^/\s]+$", value):
            raise ValueError("is not an LDAP URL like 'ldaps://ldap.corp.example:636'")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-' (at most 63)")
        return value


class RealmSettings(ConfigModel):
    """Everything the realm component reads, as one value: StackConfig's fields of the same
    names, durations in seconds. A new realm setting is a field here and in StackConfig."""

    realm: str
    access_token_lifespan: int
    sso_session_idle_timeout: int
    sso_session_max_lifespan: int
    offline_session_idle_timeout: int
    revoke_refresh_token: bool
    refresh_token_max_reuse: int
    password_policy: str
    brute_force_max_login_failures: int
    remember_me: bool
    events_expiration: int
    admin_events_expiration: int
    protect_data: bool
    ssl_required: Literal["external", "all"]


@dataclass(frozen=True)
class ServiceUrls:
    """Where the services are reached: the browser's URLs, and Keycloak as this host's Pulumi
    provider reaches it."""

    keycloak: str
    """The browser's Keycloak URL: tokens carry its realm URL as issuer."""
    mlflow: str
    issuer: str
    admin_console: str
    keycloak_from_host: str
    mlflow_from_host: str
    """MLflow as the stack's own admin calls reach it from this host (offboarding)."""
    token_from_host: str
    """The realm's token endpoint, for the same calls."""


class StackConfig(ConfigModel):
    """Everything a stack may set, with the defaults of the dev stack."""

    target: Literal["docker", "kubernetes"] = "docker"
    """Where the services run: docker (containers on this host) or kubernetes (a cluster with
    the Keycloak Operator and CloudNativePG; the `kubernetes` block)."""
    kubernetes: KubernetesSpec | None = None
    """With target kubernetes: {namespace, kubeconfig, context, renderDir, profile,
    postgresInstances, storageSize, storageClass, externalDatabases, keycloakInstances,
    keycloakImage, mlflowReplicas, redisUrl, ingressClass, ingressCertificate, certManagerIssuer,
    trustedProxies, artifacts, configureRealm, keycloakAdminUrl} (README: Kubernetes)."""
    bind_address: str = "127.0.0.1"
    """Host address MLflow's and Keycloak's ports bind to. Keep loopback unless you know why;
    the Postgres servers are published on 127.0.0.1 whatever this says."""
    public_hostname: str = "localhost"
    """Host name the browser uses for Keycloak and MLflow (the token issuer's host)."""
    keycloak_port: Port = 8080
    """Host port of Keycloak (browser and the Pulumi keycloak provider). With TLS: the edge
    proxy's plain-HTTP listener of all of Keycloak, admin API included, on 127.0.0.1 only."""
    mlflow_port: Port = 5000
    """Host port of MLflow. With TLS: the edge proxy's plain-HTTP listener of MLflow for this
    host's own tools (offboarding, stackctl), on 127.0.0.1 only."""
    tls: TlsMode = "off"
    """HTTPS at an edge proxy (Caddy): off (loopback binds only), internal (the stack's own
    CA; its certificate is the output rootCaCertificate), files (tlsCertificate and tlsKey)
    or acme (public hostnames, acmeEmail)."""
    mlflow_hostname: str = "mlflow.localhost"
    """With TLS: MLflow's host name (cookies are per host, so it differs from Keycloak's)."""
    keycloak_hostname: str = "auth.localhost"
    """With TLS: Keycloak's host name (login pages and the token issuer)."""
    https_port: Port = 8443
    """With TLS: the edge proxy's HTTPS port on bindAddress (443 for acme)."""
    http_port: Port = 8880
    """With TLS: the edge proxy's plain-HTTP port on bindAddress; it redirects to HTTPS (80
    for acme)."""
    acme_email: str | None = None
    """With tls: acme, the account email given to the certificate authority."""
    acme_ca: str | None = None
    """With tls: acme, the ACME directory URL of a private certificate authority (https);
    unset: Let's Encrypt, then ZeroSSL (Caddy's defaults)."""
    acme_ca_root: str | None = None
    """With acmeCa, the PEM root certificate that Caddy trusts for the ACME server's own
    HTTPS, when a public root does not sign it (`pulumi config set acmeCaRoot < root.pem`)."""
    tls_certificate: str | None = None
    """With tls: files, the PEM certificate chain of both hostnames (`pulumi config set
    --secret tlsCertificate < chain.pem`)."""
    tls_key: str | None = None
    """With tls: files, its PEM private key (`pulumi config set --secret tlsKey < key.pem`)."""
    proxy_image: str = pin("CADDY_IMAGE")
    """Caddy image of the edge proxy with a pinned tag (CADDY_IMAGE in versions.env)."""
    mlflow_db_port: Port = 15432
    """Host port of MLflow's Postgres (loopback; used by the Pulumi postgresql provider)."""
    keycloak_db_port: Port = 15433
    """Host port of Keycloak's Postgres (loopback; used by the Pulumi postgresql provider)."""

    postgres_image: str = pin("POSTGRES_IMAGE")
    """Postgres image with a pinned tag (POSTGRES_IMAGE in versions.env)."""
    keycloak_image: str = pin("KEYCLOAK_IMAGE")
    """Keycloak image with a pinned tag (KEYCLOAK_IMAGE in versions.env). On docker the stack
    runs an image it derives from it with Keycloak's build options (images/keycloak-optimized),
    so no start re-augments Quarkus."""
    mlflow_base_image: str = pin("PYTHON_BASE_IMAGE")
    """Python >= 3.12 base the MLflow image is built on (PYTHON_BASE_IMAGE in versions.env)."""
    mlflow_image: str | None = None
    """A prebuilt MLflow image to run instead of building images/mlflow."""
    mlflow_workers: Annotated[int, Field(ge=1, le=16)] = 1
    """Worker processes of the MLflow server (`mlflow server --workers`). More serve more
    requests (4 gave 1.43x on 2 vCPUs, docs/performance.md), but the plugin caches permissions
    per process: a revoked permission then lasts up to 30 s on the other workers."""
    mlflow_replicas: int = Field(default=0, ge=0, le=20)
    """MLflow servers sharing one SECRET_KEY, the databases and the artifacts (0: by target, 1
    on docker and 2 on kubernetes). On docker more than one needs TLS: the edge proxy balances them
    round robin; a permission change reaches the others within the plugin's 30 s cache (with
    kubernetes.redisUrl at once)."""

    @property
    def replicas(self) -> int:
        """How many MLflow servers run."""
        if self.mlflow_replicas:
            return self.mlflow_replicas
        return 2 if self.target == "kubernetes" else 1

    realm: str = "mlflow"
    """Keycloak realm MLflow's users sign in to."""
    client_id: str = "mlflow"
    """OIDC client id of MLflow (also the access tokens' audience)."""
    user_group: str = "mlflow"
    """Group whose members may use MLflow."""
    admin_group: str = "mlflow-admin"
    """Group whose members are MLflow admins."""
    keycloak_admin_username: str = "admin"
    """Bootstrap admin of Keycloak's master realm (password generated)."""

    access_token_lifespan: str = "5m"
    """Access token lifespan (10s..15m, the policy pack's bound too). MLflow access ends at most
    this long (+30 s) after revocation."""
    sso_session_idle_timeout: str = "30m"
    """SSO session idle timeout (>= access token lifespan)."""
    sso_session_max_lifespan: str = "10h"
    """SSO session max lifespan (>= idle timeout)."""
    offline_session_idle_timeout: str = "30d"
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
    events_expiration: str = "7d"
    """How long login events are kept."""
    admin_events_expiration: str = "30d"
    """How long admin events are kept."""

    direct_access_grants: bool = False
    """Allow the password grant on the MLflow client (off; scripts use tokens)."""
    automation_client_id: str | None = None
    """Id of an optional service-account client for scripts and CI (unset = none)."""
    provision_on_bearer_auth: bool = True
    """Create an MLflow user on a valid bearer token's first use (issuer and audience are
    checked). Must stay true: the stack's own admin account, which offboards people, is created
    that way."""
    default_mlflow_permission: MlflowPermission = "NO_PERMISSIONS"
    """MLflow permission of a signed-in user on resources nobody granted (READ, EDIT, MANAGE,
    NO_PERMISSIONS)."""
    ldap: tuple[LdapSpec, ...] = ()
    """LDAP / Active Directory federations, each {name, connectionUrl, startTls, bindDn,
    bindPassword (secret), usersDn, usernameAttribute, uuidAttribute, userObjectClasses,
    vendor, groupsDn, groupObjectClass, editMode}; their groups named like teams are teams."""
    identity_providers: tuple[IdentityProviderSpec, ...] = ()
    """Corporate OpenID Connect IdPs, each {alias, displayName, discoveryUrl, clientId,
    clientSecret (secret), teamClaim, teams: {claim value: team}}: a "Sign in with" button
    each, their people placed in teams by their claim."""
    require_otp_for: tuple[str, ...] = ("mlflow-admin",)
    """Groups or teams whose members must give a TOTP code at every browser sign-in, enrolling
    an authenticator app at the first (default: the default admin group; [] for nobody). The
    password grant (directAccessGrants) is not covered."""
    users: tuple[UserSpec, ...] = ()
    """People who may sign in; each {username, email, firstName, lastName, groups, teams}."""
    teams: tuple[TeamSpec, ...] = ()
    """Teams, each {name, description}: Keycloak groups that admit their members to MLflow and
    that `permissions` grant to."""
    permissions: tuple[PermissionSpec, ...] = ()
    """MLflow permissions, each {team or user, resource (experiments, registeredModels,
    prompts), name or pattern, level (READ, EDIT, MANAGE, NO_PERMISSIONS), priority}; kept as
    declared by every `up`, drift shown by `preview --refresh`."""
    protect_data: bool = True
    """Pulumi-protect the data volumes, the databases and the realm (on Kubernetes the Postgres
    clusters): destroy refuses to delete them, and a delete with the protection lifted in the
    state alone leaves them in place. On by default; the dev stack (Pulumi.dev.yaml) sets false."""

    @field_validator("mlflow_image", "automation_client_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bind_address")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("is not an IP address; use 127.0.0.1 (the default)") from None
        return value

    @field_validator("public_hostname", "mlflow_hostname", "keycloak_hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9.-]+$", value):
            raise ValueError("must be a bare host name such as 'localhost' (no scheme or port)")
        return value

    @field_validator("postgres_image", "keycloak_image", "mlflow_base_image", "mlflow_image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image_reference(value)

    @field_validator("postgres_image")
    @classmethod
    def _postgres_major(cls, value: str) -> str:
        if tag_major(value) is None:
            raise ValueError(
                "its tag must begin with Postgres's major version, as the official tags do "
                "(postgres:17.7-trixie, or postgres:17.7-trixie@sha256:...): up refuses a "
                "major-version change by it"
            )
        return value

    @field_validator(
        "realm",
        "client_id",
        "user_group",
        "admin_group",
        "keycloak_admin_username",
        "automation_client_id",
    )
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-' (at most 63)")
        return value

    @field_validator(*LIFESPAN_BOUNDS)
    @classmethod
    def _lifespan(cls, value: str, info: Any) -> str:
        seconds = parse_duration(value)
        low, high = LIFESPAN_BOUNDS[info.field_name]
        if not low <= seconds <= high:
            raise ValueError(f"must lie between {format_duration(low)} and {format_duration(high)}")
        return value

    def seconds(self, field: str) -> int:
        """A lifespan field in seconds."""
        return parse_duration(getattr(self, field))

    @property
    def realm_settings(self) -> RealmSettings:
        return RealmSettings.model_validate(
            {
                name: self.seconds(name) if name in LIFESPAN_BOUNDS else getattr(self, name)
                for name in RealmSettings.model_fields
            }
        )

    @property
    def mlflow_build_args(self) -> dict[str, str]:
        """Build arguments of images/mlflow: the base from config, the versions pinned."""
        return {
            "BASE_IMAGE": self.mlflow_base_image,
            "MLFLOW_VERSION": pin("MLFLOW_VERSION"),
            "MLFLOW_OIDC_AUTH_VERSION": pin("MLFLOW_OIDC_AUTH_VERSION"),
            "PSYCOPG_VERSION": pin("PSYCOPG_VERSION"),
        }

    @property
    def ssl_required(self) -> Literal["external", "all"]:
        """Keycloak's HTTPS requirement of the realm: all with TLS; else Keycloak's default
        (external: plain HTTP from loopback and private addresses only)."""
        return "external" if self.tls == "off" else "all"

    @property
    def database_bind_address(self) -> str:
        """Postgres is published on loopback only: just this host's Pulumi providers (and an
        operator's tools) connect to it, never another machine."""
        return "127.0.0.1"

    @property
    def local_address(self) -> str:
        """Where this host reaches the published ports (a wildcard bind is reached on loopback)."""
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
        return wildcard.get(self.bind_address, self.bind_address)

    @property
    def urls(self) -> ServiceUrls:
        if self.target == "kubernetes":
            return self._cluster_urls()
        local = f"[{self.local_address}]" if ":" in self.local_address else self.local_address
        if self.tls == "off":
            keycloak = f"http://{self.public_hostname}:{self.keycloak_port}"
            mlflow = f"http://{self.public_hostname}:{self.mlflow_port}"
        else:
            local = "127.0.0.1"  # the proxy's listeners for this host's own tools
            port = "" if self.https_port == 443 else f":{self.https_port}"
            keycloak = f"https://{self.keycloak_hostname}{port}"
            mlflow = f"https://{self.mlflow_hostname}{port}"
        keycloak_from_host = f"http://{local}:{self.keycloak_port}"
        return ServiceUrls(
            keycloak=keycloak,
            mlflow=mlflow,
            issuer=f"{keycloak}/realms/{self.realm}",
            admin_console=f"{keycloak if self.tls == 'off' else keycloak_from_host}"
            "/admin/master/console/",
            keycloak_from_host=keycloak_from_host,
            mlflow_from_host=f"http://{local}:{self.mlflow_port}",
            token_from_host=(
                f"{keycloak_from_host}/realms/{self.realm}/protocol/openid-connect/token"
            ),
        )

    def _cluster_urls(self) -> ServiceUrls:
        """On a cluster: HTTPS on the Ingress's host names; Keycloak's admin API (not routed)
        where kubernetes.keycloakAdminUrl says."""
        assert self.kubernetes is not None
        keycloak = f"https://{self.keycloak_hostname}"
        mlflow = f"https://{self.mlflow_hostname}"
        admin = self.kubernetes.keycloak_admin_url.rstrip("/")
        issuer = f"{keycloak}/realms/{self.realm}"
        return ServiceUrls(
            keycloak=keycloak,
            mlflow=mlflow,
            issuer=issuer,
            admin_console=f"{admin}/admin/master/console/",
            keycloak_from_host=admin,
            mlflow_from_host=mlflow,
            token_from_host=f"{issuer}/protocol/openid-connect/token",
        )

    @property
    def groups(self) -> tuple[str, str]:
        return (self.user_group, self.admin_group)

    @property
    def team_names(self) -> tuple[str, ...]:
        return tuple(team.name for team in self.teams)

    @property
    def sign_in_groups(self) -> tuple[str, ...]:
        """The groups whose members mlflow-oidc-auth lets sign in (OIDC_GROUP_NAME), besides
        the admin group: the user group and every team."""
        return (self.user_group, *self.team_names)

    def may_sign_in(self, user: UserSpec) -> bool:
        """Whether the person is enabled and in a group that admits them to MLflow."""
        admitted = {self.admin_group, *self.sign_in_groups}
        return user.enabled and bool(admitted & {*user.groups, *user.teams})


def _key(field: str) -> str:
    return to_camel(field)


def _tls_errors(cfg: StackConfig) -> list[str]:
    """TLS whenever anything is published beyond loopback, and what each mode needs."""
    errors: list[str] = []
    if cfg.tls == "off" and not is_loopback(cfg.bind_address):
        errors.append(
            f"bindAddress = {cfg.bind_address!r}: beyond loopback without TLS, passwords and "
            "session cookies would cross the network in clear. Fix: pulumi config set tls "
            "internal (or files / acme), or keep bindAddress 127.0.0.1"
        )
    if cfg.tls != "off" and cfg.mlflow_hostname == cfg.keycloak_hostname:
        errors.append(
            f"mlflowHostname = {cfg.mlflow_hostname!r}: same as keycloakHostname; they must "
            "differ so that each keeps its cookies. Fix: pulumi config set mlflowHostname "
            "mlflow.<your domain>"
        )
    if cfg.tls == "acme":
        if not cfg.acme_email:
            errors.append(
                "acmeEmail: required with tls = 'acme' (the certificate authority's contact). "
                "Fix: pulumi config set acmeEmail you@example.com"
            )
        if cfg.acme_ca and not cfg.acme_ca.startswith("https://"):
            errors.append(
                f"acmeCa = {cfg.acme_ca!r}: an ACME directory is reached over HTTPS. Fix: "
                "pulumi config set acmeCa https://ca.example.com/acme/directory"
            )
        if cfg.acme_ca_root and "-----BEGIN CERTIFICATE-----" not in cfg.acme_ca_root:
            errors.append(
                "acmeCaRoot: not a PEM certificate (no BEGIN CERTIFICATE line). Fix: "
                "pulumi config set acmeCaRoot < root.pem"
            )
        for key, name in (
            ("mlflowHostname", cfg.mlflow_hostname),
            ("keycloakHostname", cfg.keycloak_hostname),
        ):
            if name == "localhost" or name.endswith(".localhost"):
                errors.append(
                    f"{key} = {name!r}: a public certificate authority cannot certify a "
                    f"localhost name. Fix: a public DNS name, or pulumi config set tls internal"
                )
    # Unset keys read as "" on the real engine (Pulumi.yaml's defaults).
    if cfg.tls != "acme" and (cfg.acme_ca or cfg.acme_ca_root):
        errors.append(
            f"acmeCa, acmeCaRoot: used only with tls = 'acme' (tls is {cfg.tls!r}). Fix: "
            "pulumi config set tls acme, or pulumi config rm acmeCa (and acmeCaRoot)"
        )
    if cfg.tls == "files":
        for field, pem in (("tls_certificate", "cert.pem"), ("tls_key", "key.pem")):
            if not getattr(cfg, field):
                errors.append(
                    f"{_key(field)}: required with tls = 'files'. Fix: pulumi config set "
                    f"--secret {_key(field)} < {pem}"
                )
    return errors


def _consistency_errors(cfg: StackConfig) -> list[str]:
    """Checks that span several keys."""
    if cfg.target == "kubernetes":
        # A cluster publishes through its Ingress (always HTTPS): no host port, no edge proxy.
        placement = kubernetes_errors(cfg.kubernetes, cfg.mlflow_image)
    else:
        placement = _host_errors(cfg)
    return placement + _realm_errors(cfg)


def _host_errors(cfg: StackConfig) -> list[str]:
    """The Docker target's published ports and TLS."""
    errors: list[str] = []
    ports = {
        "keycloakPort": cfg.keycloak_port,
        "mlflowPort": cfg.mlflow_port,
        "mlflowDbPort": cfg.mlflow_db_port,
        "keycloakDbPort": cfg.keycloak_db_port,
    }
    if cfg.tls != "off":
        ports.update(httpsPort=cfg.https_port, httpPort=cfg.http_port)
    errors += _tls_errors(cfg)
    if cfg.replicas > 1 and cfg.tls == "off":
        errors.append(
            f"mlflowReplicas = {cfg.replicas}: more than one MLflow server needs the edge proxy "
            "to balance them, which runs with TLS. Fix: pulumi config set tls internal, or "
            "pulumi config rm mlflowReplicas"
        )
    seen: dict[int, str] = {}
    for key, port in ports.items():
        if port in seen:
            errors.append(
                f"{key} = {port}: clashes with {seen[port]} = {port}; each published port must "
                f"differ. Fix: pulumi config set {key} <free port>"
            )
        seen.setdefault(port, key)
    return errors


def _realm_errors(cfg: StackConfig) -> list[str]:
    """The realm, its people and their MLflow permissions, whatever the target."""
    errors: list[str] = []
    order = [
        (
            "access_token_lifespan",
            "sso_session_idle_timeout",
            "a token may not outlive its session",
        ),
        ("sso_session_idle_timeout", "sso_session_max_lifespan", "idle timeout beyond the max"),
    ]
    for shorter, longer, why in order:
        if cfg.seconds(shorter) > cfg.seconds(longer):
            errors.append(
                f"{_key(shorter)} = {getattr(cfg, shorter)!r}: longer than {_key(longer)} = "
                f"{getattr(cfg, longer)!r} ({why}). Fix: pulumi config set {_key(shorter)} "
                f"<at most {getattr(cfg, longer)}>"
            )

    if not cfg.provision_on_bearer_auth:
        errors.append(
            "provisionOnBearerAuth = False: cannot be false: the stack's admin account, which "
            "deactivates offboarded people in MLflow, is created by its first bearer call. Fix: "
            "pulumi config rm provisionOnBearerAuth (the default is true)"
        )

    if cfg.automation_client_id == cfg.client_id:
        errors.append(
            f"automationClientId = {cfg.automation_client_id!r}: same as clientId; the "
            "automation client needs an id of its own. Fix: pulumi config set "
            "automationClientId mlflow-automation"
        )

    if cfg.user_group == cfg.admin_group:
        errors.append(
            f"adminGroup = {cfg.admin_group!r}: same as userGroup; admins need a group of their "
            "own. Fix: pulumi config set adminGroup mlflow-admin"
        )

    usernames: set[str] = set()
    emails: set[str] = set()
    for index, user in enumerate(cfg.users):
        where = f"users[{index}]"
        if user.username in usernames:
            errors.append(
                f"{where}.username = {user.username!r}: duplicate username; each user must be "
                "listed once. Fix: remove or rename one entry"
            )
        usernames.add(user.username)
        if user.email.lower() in emails:
            errors.append(
                f"{where}.email = {user.email!r}: duplicate email; Keycloak requires unique "
                "emails. Fix: give each user their own address"
            )
        emails.add(user.email.lower())
        for group in user.groups:
            if group not in cfg.groups:
                hint = " (teams go under teams:)" if group in cfg.team_names else ""
                errors.append(
                    f"{where}.groups: unknown group {group!r}; known groups are "
                    f"{cfg.user_group!r} and {cfg.admin_group!r}{hint}. Fix: use one of them"
                )
        for team in user.teams:
            if team not in cfg.team_names:
                errors.append(
                    f"{where}.teams: unknown team {team!r}; {_known_teams(cfg)}. Fix: add it "
                    "to teams, or use one of them"
                )
    return (
        errors
        + _team_errors(cfg)
        + _permission_errors(cfg, usernames)
        + _otp_errors(cfg)
        + _broker_errors(cfg)
    )


def _broker_errors(cfg: StackConfig) -> list[str]:
    errors: list[str] = []
    names = [directory.name for directory in cfg.ldap]
    for index, name in enumerate(names):
        if name in names[:index]:
            errors.append(
                f"ldap[{index}].name = {name!r}: duplicate. Fix: give each directory its own name"
            )
    aliases: set[str] = set()
    for index, idp in enumerate(cfg.identity_providers):
        where = f"identityProviders[{index}]"
        if idp.alias in aliases:
            errors.append(f"{where}.alias = {idp.alias!r}: duplicate. Fix: one entry per IdP")
        aliases.add(idp.alias)
        for value, team in idp.teams.items():
            if team not in cfg.team_names:
                errors.append(
                    f"{where}.teams.{value} = {team!r}: unknown team; {_known_teams(cfg)}. "
                    "Fix: add it to teams, or map the claim value to a configured team"
                )
    return errors


def _otp_errors(cfg: StackConfig) -> list[str]:
    errors: list[str] = []
    default = StackConfig.model_fields["require_otp_for"].default
    for index, group in enumerate(cfg.require_otp_for):
        if group in (*cfg.groups, *cfg.team_names):
            continue
        why = f"neither a group ({cfg.user_group!r}, {cfg.admin_group!r}) nor a team"
        if group in default:
            why += (
                "; the default names the default admin group, and adminGroup is now "
                f"{cfg.admin_group!r}"
            )
        errors.append(
            f"requireOtpFor[{index}] = {group!r}: {why}. Fix: pulumi config set --path "
            f"'requireOtpFor[{index}]' {cfg.admin_group} (or list the groups and teams that "
            "need a second factor; [] for none)"
        )
    return errors


def _known_teams(cfg: StackConfig) -> str:
    names = ", ".join(repr(name) for name in cfg.team_names)
    return f"known teams are {names}" if names else "no teams are configured"


def _team_errors(cfg: StackConfig) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for index, team in enumerate(cfg.teams):
        where = f"teams[{index}].name = {team.name!r}"
        if team.name in cfg.groups:
            errors.append(
                f"{where}: is the name of the user or admin group; a team needs a name of its "
                "own. Fix: rename the team"
            )
        if team.name in seen:
            errors.append(f"{where}: duplicate team. Fix: list each team once")
        seen.add(team.name)
    return errors


def _permission_errors(cfg: StackConfig, usernames: set[str]) -> list[str]:
    errors: list[str] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(cfg.permissions):
        where = f"permissions[{index}]"
        if entry.team is not None and entry.team not in cfg.team_names:
            errors.append(
                f"{where}.team = {entry.team!r}: unknown team; {_known_teams(cfg)}. Fix: add it "
                "to teams, or name a configured team"
            )
        if entry.user is not None and entry.user not in usernames:
            errors.append(
                f"{where}.user = {entry.user!r}: not the username of anyone in users. Fix: name "
                "a configured person, or add them to users"
            )
        if entry.key in seen:
            errors.append(
                f"{where}: grants on the same {entry.resource} selector to the same "
                f"{entry.subject_kind} as permissions[{seen[entry.key]}]. Fix: keep one entry"
            )
        seen.setdefault(entry.key, index)
    return errors


# Fields whose values are secrets: an error names them but never repeats the value.
SECRET_FIELDS = frozenset(
    {
        "tlsKey",
        "clientSecret",
        "bindPassword",
        "externalDatabases",
        "accessKeyId",
        "secretAccessKey",
        "redisUrl",
    }
)
# Fields whose objects hold one of those (a unit test derives them from the models).
SECRET_HOLDERS = frozenset({"identityProviders", "ldap", "kubernetes", "artifacts"})


def _describe(error: Any) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key; check its spelling"
    if error["type"] == "missing":
        return f"{path}: required but not set. Fix: pulumi config set --path '{path}' <value>"
    message = str(error["msg"]).removeprefix("Value error, ")
    nested = "[" in path or "." in path
    fix = (
        f"pulumi config set --path '{path}' <value>"
        if nested
        else f"pulumi config set {path} <value>"
    )
    secret = any(str(part) in SECRET_FIELDS for part in error["loc"])
    flag = "--secret " if secret else ""
    fix = fix.replace("set ", f"set {flag}", 1)
    if secret:
        return f"{path} = [secret]: {message}. Fix: {fix}"
    if not _may_echo(error["loc"], error.get("input")):
        return f"{path}: {message}. Fix: {fix}"
    return f"{path} = {error.get('input')!r}: {message}. Fix: {fix}"


def _may_echo(loc: tuple[Any, ...], value: Any) -> bool:
    """Whether an error may repeat the value it refuses: only a scalar set at a named field
    that holds no secret. A misshaped list entry or object is not repeated: what was typed
    there may be a secret meant for one of its fields (`kubernetes.artifacts` given as
    'KEY:SECRET')."""
    scalar = value is None or isinstance(value, str | int | float | bool)
    return scalar and isinstance(loc[-1], str) and loc[-1] not in SECRET_HOLDERS


def plaintext_secrets(raw: dict[str, Any], secret_keys: Collection[str]) -> list[str]:
    """Every secret field the stack file holds in plain text: set without --secret, so it is
    written there as it is (and into version control with it)."""
    errors = []
    for key, value in raw.items():
        if key in secret_keys:
            continue
        for path in _secret_paths(key, key, value):
            where = f"--path '{path}'" if path != key else path
            errors.append(
                f"{path}: a secret set in plain text; the stack file holds it as it is. Fix: "
                f"pulumi config set --secret {where} <value>, then rotate it if that file was "
                "shared"
            )
    return errors


def _secret_paths(path: str, field: str, value: Any) -> Iterator[str]:
    if field in SECRET_FIELDS and value not in (None, "", {}, []):
        yield path
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _secret_paths(f"{path}.{name}", str(name), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(f"{path}[{index}]", "", item)


def parse_config(
    raw: dict[str, Any], namespace: str = NAMESPACE, secret_keys: Collection[str] | None = None
) -> StackConfig:
    """Validate raw config values (camelCase keys, as in the stack file) into a StackConfig.
    With `secret_keys` (the keys the stack holds encrypted), a secret field outside them is
    refused as well."""
    # Reported with whatever else is wrong, so one run names every fix.
    plaintext = [] if secret_keys is None else plaintext_secrets(raw, secret_keys)
    errors: list[str] = []
    known = {field.alias or name for name, field in StackConfig.model_fields.items()}
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=1)
            hint = (
                f"did you mean {near[0]!r}?" if near else f"known keys: {', '.join(sorted(known))}"
            )
            errors.append(f"{key}: unknown config key; {hint}")
    if errors:
        raise ConfigError(_format(namespace, plaintext + errors))
    try:
        cfg = StackConfig.model_validate(raw)
    except ValidationError as exc:
        described = [_describe(e) for e in exc.errors()]
        raise ConfigError(_format(namespace, plaintext + described)) from None
    errors = plaintext + _consistency_errors(cfg)
    if errors:
        raise ConfigError(_format(namespace, errors))
    return cfg


def _format(namespace: str, errors: list[str]) -> str:
    lines = "\n".join(f"  - {namespace}:{error}" for error in errors)
    return f"invalid stack configuration ({len(errors)} problem(s)):\n{lines}"


# Keys whose values are lists or objects (set with `pulumi config set --path`).
STRUCTURED_KEYS = (
    "users",
    "teams",
    "permissions",
    "requireOtpFor",
    "identityProviders",
    "ldap",
    "kubernetes",
)


def load_config() -> StackConfig:
    """Read this stack's config once; raise ConfigError naming every bad key."""
    namespace = pulumi.get_project()
    prefix = f"{namespace}:"
    config = pulumi.Config(namespace)
    raw: dict[str, Any] = {}
    # Which keys the stack sets, misspelt ones included (pulumi.Config can only be asked for
    # known names): the language host hands the whole map to the program as PULUMI_CONFIG.
    for full_key in sorted(pulumi.runtime.get_config_env()):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if key in STRUCTURED_KEYS:
            # Read as JSON directly: an object holding a secret (an IdP's clientSecret) is a
            # secret as a whole, and pulumi.Config.get_object would warn about reading it.
            text = pulumi.runtime.get_config(full_key)
            raw[key] = None if text is None else json.loads(text)
        elif pulumi.runtime.is_config_secret(full_key):
            # A secret (tlsKey) is read as what it is; the model keeps it, and whoever uses it
            # wraps it in pulumi.Output.secret again.
            raw[key] = pulumi.runtime.get_config(full_key)
        else:
            raw[key] = config.get(key)
    secret_keys = {key for key in raw if pulumi.runtime.is_config_secret(f"{prefix}{key}")}
    try:
        return parse_config(raw, namespace, secret_keys)
    except ConfigError as error:
        # Shown once, as the only error: the Python language host treats this exit code as
        # "the program already told the user why", and adds no "exited with code 1" of its own.
        pulumi.log.error(str(error))
        raise SystemExit(MESSAGE_SHOWN_EXIT_CODE) from error
