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

from . import containers, images, keycloak_client, keycloak_realm, mlflow_permissions
from .props import plain
from .rule import Resource, Rule

PACK_NAME = NAMESPACE
RULE_MODULES = (containers, keycloak_realm, keycloak_client, images, mlflow_permissions)

# Every rule the rule modules define, in the order they define them: a new rule cannot be
# left out of the pack.
RULES: tuple[Rule, ...] = tuple(
    value for module in RULE_MODULES for value in vars(module).values() if isinstance(value, Rule)
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
