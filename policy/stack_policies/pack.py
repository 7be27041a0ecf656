"""The rules as pulumi-policy resource validation policies."""

from __future__ import annotations

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from stackrules.names import NAMESPACE

from .containers import (
    DEFAULT_PERMISSION,
    KEYCLOAK_PRODUCTION_MODE,
    NO_HOST_ACCESS,
    OIDC_TOKEN_CHECKS,
    PORTS_ON_LOOPBACK,
    SECRETS_NOT_PLAINTEXT,
    TOKEN_AUDIENCE_AND_ISSUER,
)
from .images import IMAGES_PINNED
from .keycloak_client import CONFIDENTIAL_CLIENT, FLAT_GROUPS_CLAIM, NO_DIRECT_GRANTS
from .keycloak_realm import (
    ACCESS_TOKEN_LIFESPAN,
    ADMIN_EVENTS_EXPIRE,
    BRUTE_FORCE_DETECTION,
    EVENTS_STORED,
    PASSWORD_POLICY,
    REFRESH_TOKEN_ROTATION,
    SSO_SESSION_LIFESPAN,
)
from .props import plain
from .rule import Resource, Rule

PACK_NAME = NAMESPACE

RULES: tuple[Rule, ...] = (
    PORTS_ON_LOOPBACK,
    KEYCLOAK_PRODUCTION_MODE,
    BRUTE_FORCE_DETECTION,
    EVENTS_STORED,
    ADMIN_EVENTS_EXPIRE,
    ACCESS_TOKEN_LIFESPAN,
    SSO_SESSION_LIFESPAN,
    REFRESH_TOKEN_ROTATION,
    PASSWORD_POLICY,
    FLAT_GROUPS_CLAIM,
    CONFIDENTIAL_CLIENT,
    NO_DIRECT_GRANTS,
    IMAGES_PINNED,
    OIDC_TOKEN_CHECKS,
    TOKEN_AUDIENCE_AND_ISSUER,
    DEFAULT_PERMISSION,
    SECRETS_NOT_PLAINTEXT,
    NO_HOST_ACCESS,
)


def _validation(rule: Rule) -> ResourceValidation:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.resource_types:
            return
        resource = Resource(args.resource_type, plain(args.props), args.name)
        for message in rule.violations(resource, plain(args.get_config())):
            report_violation(message, None)

    return validate


def as_policy(rule: Rule) -> ResourceValidationPolicy:
    properties = {key: dict(spec) for key, spec in rule.config.items()}
    schema = PolicyConfigSchema(properties=properties) if properties else None
    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=_validation(rule),
        config_schema=schema,
    )


def policies() -> list[Policy]:
    return [as_policy(rule) for rule in RULES]
