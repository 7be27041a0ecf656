"""Bad stack config fails before any resource exists, naming the key, the value and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from stackconfig import MESSAGE_SHOWN_EXIT_CODE, ConfigError, StackConfig, parse_config
from stackconfig.loading import SECRET_FIELDS, SECRET_HOLDERS
from tests.support.bad_configs import BAD_CONFIGS, BadConfig
from tests.support.harness import run_program


def config_error(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> str:
    """The refusal of `raw` as a stack gives it with none of its keys set as secrets (as the
    CLI suite's stacks are), unless told."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, secret_keys=secret_keys)
    return str(caught.value)


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.id)
def test_bad_config_is_refused_with_key_value_and_fix(case: BadConfig) -> None:
    message = config_error(case.raw)
    assert "mlflow-keycloak-stack:" in message
    assert "Fix:" in message or "did you mean" in message or "unknown key" in message
    for fragment in case.expected:
        assert fragment in message
    for secret in case.hidden:
        assert secret not in message


def test_secrets_set_as_secrets_pass_and_a_plain_one_is_named_with_every_other_problem() -> None:
    (case,) = [c for c in BAD_CONFIGS if c.id == "idp-client-secret-in-plain-text"]
    assert parse_config(case.raw, secret_keys={"identityProviders"}).identity_providers
    message = config_error({**case.raw, "tlsKey": "-----BEGIN PRIVATE KEY-----", "mlflowPort": "0"})
    assert "(3 problem(s))" in message
    assert "tlsKey: a secret set in plain text" in message
    assert "pulumi config set --secret tlsKey <value>" in message
    assert "BEGIN PRIVATE KEY" not in message


def test_every_problem_is_reported_at_once() -> None:
    message = config_error({"mlflowPort": "0", "keycloakImage": "kc", "eventsExpiration": "x"})
    assert "(3 problem(s))" in message
    for key in ("mlflowPort", "keycloakImage", "eventsExpiration"):
        assert f"mlflow-keycloak-stack:{key} = " in message


def test_defaults_make_a_valid_stack_with_pinned_images() -> None:
    cfg = parse_config({})
    assert cfg == StackConfig()
    assert cfg.keycloak_image == "quay.io/keycloak/keycloak:26.4.7"
    assert cfg.bind_address == "127.0.0.1"
    assert cfg.users == ()


def test_the_program_itself_refuses_bad_config_as_a_shown_message() -> None:
    with pytest.raises(SystemExit) as exited:
        run_program({"accessTokenLifespan": "forever"})
    assert exited.value.code == MESSAGE_SHOWN_EXIT_CODE
    assert isinstance(exited.value.__cause__, ConfigError)
    assert "accessTokenLifespan" in str(exited.value.__cause__)


def test_a_bad_secret_value_is_named_but_never_repeated() -> None:
    (case,) = [c for c in BAD_CONFIGS if c.id == "kubernetes-external-database-url-not-postgres"]
    message = config_error(case.raw)
    assert "kubernetes.externalDatabases.tracking" in message
    assert "hunter2" not in message


def test_kubernetes_postgres_instances_follow_the_profile() -> None:
    base = {"target": "kubernetes", "mlflowImage": "r.example.com/mlflow:1"}
    block = {
        "ingressCertificate": "tls",
        "artifacts": {"bucket": "bkt", "accessKeyId": "a", "secretAccessKey": "s"},
    }
    cfg = parse_config({**base, "kubernetes": block})
    production = cfg.kubernetes
    dev = parse_config({**base, "kubernetes": {**block, "profile": "dev"}}).kubernetes
    pinned = parse_config({**base, "kubernetes": {**block, "postgresInstances": 5}}).kubernetes
    assert production is not None and dev is not None and pinned is not None
    assert (production.instances, dev.instances, pinned.instances) == (3, 1, 5)
    assert production.keycloak_instances >= 2 and cfg.replicas >= 2
    assert parse_config({}).replicas == 1


def _holders(model: type[BaseModel]) -> tuple[set[str], bool]:
    """The aliases of `model`'s fields whose objects hold a secret field, and whether it holds
    one itself."""
    holders: set[str] = set()
    holds = False
    for name, field in model.model_fields.items():
        alias = field.alias or name
        if alias in SECRET_FIELDS:
            holds = True
            continue
        for inner in _models_in(field.annotation):
            inner_holders, inner_holds = _holders(inner)
            holders |= inner_holders
            if inner_holds:
                holders.add(alias)
                holds = True
    return holders, holds


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


def test_every_field_that_holds_a_secret_is_never_repeated_in_an_error() -> None:
    holders, _ = _holders(StackConfig)
    assert holders == SECRET_HOLDERS
