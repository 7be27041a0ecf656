"""The stack's outputs as a contract: every name the stack exports (wiring/) and that stackctl
and an operator's scripts read (stackctl/outputs.py), in one place, and which of them are
secrets."""

from __future__ import annotations

from enum import StrEnum


class Output(StrEnum):
    MLFLOW_URL = "mlflowUrl"
    KEYCLOAK_URL = "keycloakUrl"
    KEYCLOAK_ADMIN_CONSOLE_URL = "keycloakAdminConsoleUrl"
    ISSUER = "issuer"
    REALM = "realm"
    CLIENT_ID = "clientId"
    CLIENT_SECRET = "clientSecret"
    KEYCLOAK_ADMIN_USERNAME = "keycloakAdminUsername"
    KEYCLOAK_ADMIN_PASSWORD = "keycloakAdminPassword"
    USER_INITIAL_PASSWORDS = "userInitialPasswords"
    AUTOMATION_CLIENT_ID = "automationClientId"
    AUTOMATION_CLIENT_SECRET = "automationClientSecret"
    STACK_ADMIN_CLIENT_ID = "stackAdminClientId"
    STACK_ADMIN_CLIENT_SECRET = "stackAdminClientSecret"
    KEYCLOAK_ADMIN_URL = "keycloakAdminUrl"
    MLFLOW_ADMIN_URL = "mlflowAdminUrl"
    STACKCTL_CLIENT_ID = "stackctlClientId"
    STACKCTL_CLIENT_SECRET = "stackctlClientSecret"
    MLFLOW_GROUPS = "mlflowGroups"
    MLFLOW_DB_PORT = "mlflowDbPort"
    KEYCLOAK_DB_PORT = "keycloakDbPort"
    ROOT_CA_CERTIFICATE = "rootCaCertificate"
    DATA_STORES = "dataStores"
    KUBERNETES_NAMESPACE = "kubernetesNamespace"
    RENDERED_MANIFESTS = "renderedManifests"


# What `pulumi stack output` shows as [secret] without --show-secrets.
SECRET_OUTPUTS = frozenset(
    {
        Output.CLIENT_SECRET,
        Output.KEYCLOAK_ADMIN_PASSWORD,
        Output.USER_INITIAL_PASSWORDS,
        Output.AUTOMATION_CLIENT_SECRET,
        Output.STACK_ADMIN_CLIENT_SECRET,
        Output.STACKCTL_CLIENT_SECRET,
    }
)
