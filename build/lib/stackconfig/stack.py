"""StackConfig: everything a stack may set, with the defaults of the dev stack, made of the
concerns' models; and what follows from it (the services' URLs, who may sign in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from stackconfig.base import ConfigModel
from stackconfig.federation import IdentityProviderSpec, LdapSpec
from stackconfig.mlflow import MlflowConfig
from stackconfig.people import PermissionSpec, TeamSpec, UserSpec
from stackconfig.realm import RealmConfig
from stackconfig.targets import DockerHostConfig, TargetConfig
from stackconfig.tls import TlsConfig
from stackconfig.types import Image, Name, PostgresImage, unset_if_empty
from stackrules.versions import pin


class ServicesConfig(TargetConfig):
    """The images the services run and how many MLflow servers there are."""

    postgres_image: PostgresImage = pin("POSTGRES_IMAGE")
    """Postgres image with a pinned tag (POSTGRES_IMAGE in versions.env)."""
    keycloak_image: Image = pin("KEYCLOAK_IMAGE")
    """Keycloak image with a pinned tag (KEYCLOAK_IMAGE in versions.env). On docker the stack
    runs an image it derives from it with Keycloak's build options (images/keycloak-optimized),
    so no start re-augments Quarkus."""
    mlflow_base_image: Image = pin("PYTHON_BASE_IMAGE")
    """Python >= 3.12 base the MLflow image is built on (PYTHON_BASE_IMAGE in versions.env)."""
    mlflow_image: Annotated[Image | None, unset_if_empty()] = None
    """A prebuilt MLflow image to run instead of building images/mlflow."""
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

    @property
    def mlflow_build_args(self) -> dict[str, str]:
        """Build arguments of images/mlflow: the base from config, the versions pinned."""
        return {
            "BASE_IMAGE": self.mlflow_base_image,
            "MLFLOW_VERSION": pin("MLFLOW_VERSION"),
            "MLFLOW_OIDC_AUTH_VERSION": pin("MLFLOW_OIDC_AUTH_VERSION"),
            "PSYCOPG_VERSION": pin("PSYCOPG_VERSION"),
        }


class AccessConfig(ConfigModel):
    """Who may use MLflow, through which clients, with what permissions."""

    client_id: Name = "mlflow"
    """OIDC client id of MLflow (also the access tokens' audience)."""
    user_group: Name = "mlflow"
    """Group whose members may use MLflow."""
    admin_group: Name = "mlflow-admin"
    """Group whose members are MLflow admins."""
    keycloak_admin_username: Name = "admin"
    """Bootstrap admin of Keycloak's master realm (password generated)."""
    direct_access_grants: bool = False
    """Allow the password grant on the MLflow client (off; scripts use tokens)."""
    automation_client_id: Annotated[Name | None, unset_if_empty()] = None
    """Id of an optional service-account client for scripts and CI (unset = none)."""
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


class StackConfig(
    AccessConfig, MlflowConfig, RealmConfig, TlsConfig, DockerHostConfig, ServicesConfig
):
    """Everything a stack may set, with the defaults of the dev stack."""

    protect_data: bool = True
    """Pulumi-protect the data volumes, the databases and the realm (on Kubernetes the Postgres
    clusters): destroy refuses to delete them, and a delete with the protection lifted in the
    state alone leaves them in place. On by default; the dev stack (Pulumi.dev.yaml) sets false."""

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
