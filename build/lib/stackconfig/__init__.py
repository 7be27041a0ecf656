"""The stack's configuration model: every key, its default, bound and the message for a bad
value, split by concern (people, federation, realm, tls, targets), the checks that span keys
(checks), the loading (loading) and the generated docs (docs). Between the pure rules
(stackrules) and the components, which receive plain typed values or one of these models."""

from stackconfig.base import MESSAGE_SHOWN_EXIT_CODE, ConfigError, ConfigModel
from stackconfig.federation import IdentityProviderSpec, LdapSpec
from stackconfig.loading import load_config, parse_config, plaintext_secrets
from stackconfig.mlflow import MlflowConfig
from stackconfig.people import PermissionSpec, TeamSpec, UserSpec
from stackconfig.realm import RealmConfig
from stackconfig.stack import ServiceUrls, StackConfig
from stackconfig.targets import ExternalDatabases, KubernetesSpec, S3Artifacts
from stackconfig.tls import TlsMode

__all__ = [
    "MESSAGE_SHOWN_EXIT_CODE",
    "ConfigError",
    "ConfigModel",
    "ExternalDatabases",
    "IdentityProviderSpec",
    "KubernetesSpec",
    "LdapSpec",
    "MlflowConfig",
    "PermissionSpec",
    "RealmConfig",
    "S3Artifacts",
    "ServiceUrls",
    "StackConfig",
    "TeamSpec",
    "TlsMode",
    "UserSpec",
    "load_config",
    "parse_config",
    "plaintext_secrets",
]
