"""Bad stack configs, each with what its refusal must say: one list for the unit suite (the
config model) and the real-CLI suite (`pulumi preview` and `pulumi up`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALAN = {
    "username": "alan",
    "email": "alan@example.com",
    "firstName": "Alan",
    "lastName": "Turing",
    "groups": ["mlflow"],
}


def user(**changes: Any) -> dict[str, Any]:
    return {**ALAN, **changes}


TEAMS = [{"name": "data-science", "description": "Churn and forecasting"}]


def grant(**changes: Any) -> dict[str, Any]:
    return {
        "team": "data-science",
        "resource": "experiments",
        "pattern": "^ds-",
        "level": "EDIT",
    } | changes


@dataclass(frozen=True)
class BadConfig:
    id: str
    raw: dict[str, Any]
    expected: list[str]
    # What the refusal must never repeat (a secret typed into the config).
    hidden: tuple[str, ...] = ()

    @property
    def fails_schema_type(self) -> bool:
        """A value of the wrong type for Pulumi.yaml's schema, which the CLI itself refuses
        before the program runs (naming the key and the type, not our message)."""
        return self.id in SCHEMA_TYPE_ERRORS


SCHEMA_TYPE_ERRORS = {"port-not-a-number", "boolean-not-boolean"}


BAD_CONFIGS = [
    BadConfig(
        "permission-for-unknown-team",
        {"teams": TEAMS, "permissions": [grant(team="data-sci")]},
        ["permissions[0].team = 'data-sci': unknown team", "known teams are 'data-science'"],
    ),
    BadConfig(
        "permission-pattern-not-a-regex",
        {"teams": TEAMS, "permissions": [grant(pattern="^(ds-")]},
        ["permissions[0].pattern = '^(ds-'", "not a regular expression"],
    ),
    BadConfig(
        "permission-unknown-level",
        {"teams": TEAMS, "permissions": [grant(level="WRITE")]},
        ["permissions[0].level = 'WRITE'", "'READ', 'EDIT', 'MANAGE' or 'NO_PERMISSIONS'"],
    ),
    BadConfig(
        "permission-names-and-patterns",
        {"teams": TEAMS, "permissions": [grant(name="ds-churn")]},
        ["permissions[0]", "exactly one of name (exact) and pattern"],
    ),
    BadConfig(
        "otp-for-renamed-admin-group",
        {"adminGroup": "ml-admins"},
        ["requireOtpFor[0] = 'mlflow-admin'", "adminGroup is now 'ml-admins'"],
    ),
    BadConfig(
        "idp-maps-to-unknown-team",
        {
            "teams": TEAMS,
            "identityProviders": [
                {
                    "alias": "corp",
                    "discoveryUrl": "https://idp.example.com/.well-known/openid-configuration",
                    "clientId": "mlflow",
                    "clientSecret": "x",
                    "teams": {"corp-ds": "ds"},
                }
            ],
        },
        ["identityProviders[0].teams.corp-ds = 'ds': unknown team"],
    ),
    BadConfig(
        "kubernetes-artifacts-misshaped-is-not-repeated",
        {
            "target": "kubernetes",
            "mlflowImage": "registry.example.com/mlflow:1",
            "kubernetes": {"ingressCertificate": "tls", "artifacts": "AKIA1:hunter2-artifacts"},
        },
        ["kubernetes.artifacts: Input should be a valid dictionary"],
        hidden=("hunter2-artifacts",),
    ),
    BadConfig(
        "idp-client-secret-in-plain-text",
        {
            "identityProviders": [
                {
                    "alias": "corp",
                    "discoveryUrl": "https://idp.example.com/.well-known/openid-configuration",
                    "clientId": "mlflow",
                    "clientSecret": "hunter2-plain",
                }
            ],
        },
        [
            "identityProviders[0].clientSecret: a secret set in plain text",
            "pulumi config set --secret --path 'identityProviders[0].clientSecret' <value>",
        ],
        hidden=("hunter2-plain",),
    ),
    BadConfig(
        "user-in-unknown-team",
        {"teams": TEAMS, "users": [user(teams=["finance"])]},
        ["users[0].teams: unknown team 'finance'"],
    ),
    BadConfig(
        "unknown-group-on-user",
        {"users": [user(groups=["admins"])]},
        ["users[0].groups", "unknown group 'admins'", "'mlflow' and 'mlflow-admin'"],
    ),
    BadConfig(
        "duplicate-username",
        {"users": [user(), user(email="other@example.com")]},
        ["users[1].username = 'alan'", "duplicate username"],
    ),
    BadConfig(
        "duplicate-email",
        {"users": [user(), user(username="alan2")]},
        ["users[1].email", "duplicate email"],
    ),
    BadConfig(
        "malformed-email",
        {"users": [user(email="alan-at-example.com")]},
        ["users[0].email = 'alan-at-example.com'", "not an email address"],
    ),
    BadConfig(
        "username-with-space-and-capitals",
        {"users": [user(username="Alan Turing")]},
        ["users[0].username = 'Alan Turing'", "lower-case"],
    ),
    BadConfig(
        "user-without-names",
        {"users": [{"username": "x", "email": "x@example.com"}]},
        ["users[0].firstName: required", "users[0].lastName: required"],
    ),
    BadConfig(
        "unknown-user-field",
        {"users": [user(role="admin")]},
        ["users[0].role: unknown key"],
    ),
    BadConfig(
        "user-enabled-not-boolean",
        {"users": [user(enabled="sometimes")]},
        ["users[0].enabled = 'sometimes'", "boolean"],
    ),
    BadConfig(
        "bearer-provisioning-off",
        {"provisionOnBearerAuth": False},
        [
            "provisionOnBearerAuth = False",
            "cannot be false",
            "pulumi config rm provisionOnBearerAuth",
        ],
    ),
    BadConfig(
        "wide-bind-without-tls",
        {"bindAddress": "0.0.0.0"},
        ["bindAddress = '0.0.0.0'", "without TLS", "pulumi config set tls internal"],
    ),
    BadConfig(
        "unknown-tls-mode",
        {"tls": "on"},
        ["tls = 'on'", "'off'", "'internal'"],
    ),
    BadConfig(
        "acme-without-email-on-localhost",
        {"tls": "acme"},
        ["acmeEmail: required", "mlflowHostname = 'mlflow.localhost'", "localhost name"],
    ),
    BadConfig(
        "acme-directory-over-plain-http",
        {
            "tls": "acme",
            "acmeEmail": "ops@example.org",
            "mlflowHostname": "mlflow.example.org",
            "keycloakHostname": "auth.example.org",
            "acmeCa": "http://ca.example.org/directory",
            "acmeCaRoot": "not a certificate",
        },
        ["acmeCa = 'http://ca.example.org/directory'", "over HTTPS", "acmeCaRoot: not a PEM"],
    ),
    BadConfig(
        "acme-ca-without-acme",
        {"tls": "internal", "acmeCa": "https://ca.example.org/directory"},
        ["acmeCa, acmeCaRoot: used only with tls = 'acme'", "tls is 'internal'"],
    ),
    BadConfig(
        "files-without-certificate",
        {"tls": "files"},
        ["tlsCertificate: required", "tlsKey: required", "pulumi config set --secret"],
    ),
    BadConfig(
        "one-hostname-for-both",
        {"tls": "internal", "mlflowHostname": "auth.localhost"},
        ["mlflowHostname = 'auth.localhost'", "same as keycloakHostname"],
    ),
    BadConfig(
        "lifespan-not-parseable",
        {"accessTokenLifespan": "five minutes"},
        ["accessTokenLifespan = 'five minutes'", "not a duration", "'5m'"],
    ),
    BadConfig(
        "lifespan-too-short",
        {"accessTokenLifespan": "2s"},
        ["accessTokenLifespan = '2s'", "between 10s and 15m"],
    ),
    BadConfig(
        "token-outlives-session",
        {"accessTokenLifespan": "15m", "ssoSessionIdleTimeout": "10m"},
        ["accessTokenLifespan = '15m'", "longer than ssoSessionIdleTimeout = '10m'"],
    ),
    BadConfig(
        "idle-beyond-max",
        {"ssoSessionIdleTimeout": "12h", "ssoSessionMaxLifespan": "10h"},
        ["ssoSessionIdleTimeout = '12h'", "longer than ssoSessionMaxLifespan"],
    ),
    BadConfig(
        "events-kept-too-briefly",
        {"eventsExpiration": "10m"},
        ["eventsExpiration = '10m'", "between 1h and"],
    ),
    BadConfig(
        "port-out-of-range",
        {"mlflowPort": "70000"},
        ["mlflowPort = '70000'", "less than or equal to 65535"],
    ),
    BadConfig(
        "port-not-a-number",
        {"mlflowPort": "http"},
        ["mlflowPort = 'http'", "valid integer"],
    ),
    BadConfig(
        "ports-clash",
        {"mlflowPort": "8080"},
        ["mlflowPort = 8080: clashes with keycloakPort = 8080"],
    ),
    BadConfig(
        "image-without-tag",
        {"keycloakImage": "quay.io/keycloak/keycloak"},
        ["keycloakImage = 'quay.io/keycloak/keycloak'", "has no tag"],
    ),
    BadConfig(
        "image-latest",
        {"postgresImage": "postgres:latest"},
        ["postgresImage = 'postgres:latest'", "'latest'"],
    ),
    BadConfig(
        "bind-address-not-ip",
        {"bindAddress": "everywhere"},
        ["bindAddress = 'everywhere'", "not an IP address"],
    ),
    BadConfig(
        "unknown-mlflow-permission",
        {"defaultMlflowPermission": "WRITE"},
        ["defaultMlflowPermission = 'WRITE'", "'READ'", "'NO_PERMISSIONS'"],
    ),
    BadConfig(
        "admin-group-equals-user-group",
        {"adminGroup": "mlflow"},
        ["adminGroup = 'mlflow': same as userGroup"],
    ),
    BadConfig(
        "misspelt-key",
        {"accesTokenLifespan": "5m"},
        ["accesTokenLifespan: unknown config key", "did you mean 'accessTokenLifespan'"],
    ),
    BadConfig(
        "hostname-with-scheme",
        {"publicHostname": "http://localhost"},
        ["publicHostname = 'http://localhost'", "bare host name"],
    ),
    BadConfig(
        "boolean-not-boolean",
        {"revokeRefreshToken": "maybe"},
        ["revokeRefreshToken = 'maybe'", "valid boolean"],
    ),
    BadConfig(
        "refresh-token-reuse-negative",
        {"refreshTokenMaxReuse": "-1"},
        ["refreshTokenMaxReuse = '-1'"],
    ),
    BadConfig(
        "brute-force-threshold-zero",
        {"bruteForceMaxLoginFailures": "0"},
        ["bruteForceMaxLoginFailures = '0'"],
    ),
    BadConfig(
        "mlflow-workers-zero",
        {"mlflowWorkers": "0"},
        ["mlflowWorkers = '0'"],
    ),
    BadConfig(
        "realm-name-with-space",
        {"realm": "ml flow"},
        ["realm = 'ml flow'", "letters, digits"],
    ),
    BadConfig(
        "automation-client-is-the-mlflow-client",
        {"automationClientId": "mlflow"},
        ["automationClientId = 'mlflow': same as clientId"],
    ),
    BadConfig(
        "prebuilt-mlflow-image-latest",
        {"mlflowImage": "mlflow:latest"},
        ["mlflowImage = 'mlflow:latest'", "'latest'"],
    ),
    BadConfig(
        "db-port-clashes-with-mlflow",
        {"mlflowDbPort": "5000"},
        ["clashes with"],
    ),
    BadConfig(
        "kubernetes-target-without-its-block",
        {"target": "kubernetes"},
        ["kubernetes: required with target = 'kubernetes'"],
    ),
    BadConfig(
        "kubernetes-without-image-tls-or-artifacts",
        {"target": "kubernetes", "kubernetes": {"namespace": "mlflow"}},
        [
            "mlflowImage: required with target = 'kubernetes'",
            "kubernetes.ingressCertificate / kubernetes.certManagerIssuer: give exactly one",
            "kubernetes.artifacts: required",
        ],
    ),
    BadConfig(
        "kubernetes-namespace-not-a-dns-label",
        {"target": "kubernetes", "kubernetes": {"namespace": "ML_Flow"}},
        ["kubernetes.namespace = 'ML_Flow'", "DNS label"],
    ),
    BadConfig(
        "kubernetes-external-database-url-not-postgres",
        {
            "target": "kubernetes",
            "kubernetes": {
                "externalDatabases": {
                    "tracking": "mysql://u:hunter2-secret@db/x",
                    "permissions": "postgresql://u:p@db/auth",
                    "identities": "postgresql://u:p@db/kc",
                }
            },
        },
        [
            "kubernetes.externalDatabases.tracking = [secret]",
            "postgresql://USER:PASSWORD@HOST",
            "pulumi config set --secret --path 'kubernetes.externalDatabases.tracking'",
        ],
    ),
    BadConfig(
        "kubernetes-misspelt-key",
        {"target": "kubernetes", "kubernetes": {"mlflowReplica": 3}},
        ["kubernetes.mlflowReplica"],
    ),
    BadConfig(
        "mlflow-replicas-without-the-proxy",
        {"mlflowReplicas": "2"},
        ["mlflowReplicas = 2: more than one MLflow server needs the edge proxy"],
    ),
]
