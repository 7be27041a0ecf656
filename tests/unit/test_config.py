"""Bad stack config fails before any resource exists, naming the key, the value and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import MESSAGE_SHOWN_EXIT_CODE, ConfigError, StackConfig, parse_config
from tests.support.bad_configs import BAD_CONFIGS, BadConfig
from tests.support.harness import run_program


def config_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.id)
def test_bad_config_is_refused_with_key_value_and_fix(case: BadConfig) -> None:
    message = config_error(case.raw)
    assert "mlflow-keycloak-stack:" in message
    assert "Fix:" in message or "did you mean" in message or "unknown key" in message
    for fragment in case.expected:
        assert fragment in message


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
