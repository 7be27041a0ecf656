"""Pins agree with each other: SDKs with plugins, Pulumi.yaml's schema with the config model."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from stackconfig import StackConfig
from stackconfig.docs import render_pulumi_yaml, render_reference, schema_type
from stackrules.versions import pinned_versions
from tests.support.harness import ROOT


def pins_in(*lines: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[\w,]+\])?==(\S+)$", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def requirement_pins(*names: str) -> dict[str, str]:
    """The pins of requirements files (requirements.txt by default), -r includes followed."""
    pins: dict[str, str] = {}
    for name in names or ("requirements.txt",):
        lines = (ROOT / name).read_text().splitlines()
        for line in lines:
            if line.startswith("-r "):
                pins.update(requirement_pins(str(Path(name).parent / line.split()[1])))
        pins.update(pins_in(*lines))
    return pins


def test_every_other_pin_list_agrees_with_the_requirements_files() -> None:
    """requirements*.txt are the one pin list: pyproject's and the policy pack's repeat them."""
    pinned = requirement_pins("requirements-dev.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    policy = (ROOT / "policy" / "requirements.txt").read_text().splitlines()
    for where, pins in {"pyproject.toml": pins_in(*project), "policy": pins_in(*policy)}.items():
        assert pins, where
        differing = {n: (v, pinned.get(n)) for n, v in pins.items() if pinned.get(n) != v}
        assert differing == {}, f"{where} pins differ from requirements*.txt: {differing}"


def test_each_pulumi_sdk_equals_the_provider_plugin_we_build() -> None:
    sdks, plugins = requirement_pins(), pinned_versions()
    for name in ("keycloak", "docker", "postgresql", "random"):
        assert sdks[f"pulumi-{name}"] == plugins[f"PULUMI_{name.upper()}_VERSION"], name


def test_the_cli_is_not_older_than_the_sdk() -> None:
    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version.split("."))

    assert parts(pinned_versions()["PULUMI_VERSION"]) >= parts(requirement_pins()["pulumi"])


def test_every_requirement_is_pinned_exactly() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert "==" in line, f"{name}: {line!r} is not pinned with =="


def test_pulumi_yaml_schema_matches_the_config_model() -> None:
    schema = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    fields = {field.alias: field for field in StackConfig.model_fields.values()}
    # Pulumi's schema has no object type: object keys (kubernetes) are left undeclared.
    objects = {key for key, field in fields.items() if schema_type(field) == "object"}
    assert objects == {"kubernetes"}
    assert set(schema) == set(fields) - objects
    kinds = {"string": str, "integer": int, "boolean": bool}
    for key, spec in schema.items():
        assert spec.get("description"), key
        # Pulumi treats a key without a default as required: every key needs one.
        assert "default" in spec, key
        expected = fields[key].default
        if expected is None:
            assert spec["default"] == "", key  # "" stands for unset
        elif spec["type"] == "array":
            assert spec["default"] == list(expected), key
        else:
            assert spec["default"] == expected, key
            assert isinstance(spec["default"], kinds[spec["type"]]), key


def test_dev_stack_file_is_valid_config_without_secrets() -> None:
    from stackconfig import parse_config

    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    prefix = "mlflow-keycloak-stack:"
    raw = {key.removeprefix(prefix): value for key, value in stack["config"].items()}
    cfg = parse_config(raw)
    assert cfg.users, "the dev stack should declare people to sign in"
    for key in stack["config"]:
        assert not re.search("password|secret|passphrase", key, re.I), key
    assert "secure:" not in (ROOT / "Pulumi.dev.yaml").read_text()


def test_pulumi_yaml_and_the_configuration_reference_are_generated_from_the_model() -> None:
    assert (ROOT / "Pulumi.yaml").read_text() == render_pulumi_yaml(
        (ROOT / "Pulumi.yaml").read_text()
    ), "Pulumi.yaml's config block is stale: run .venv/bin/python -m stackconfig.docs"
    reference = (ROOT / "docs" / "configuration.md").read_text()
    assert reference == render_reference(reference), (
        "docs/configuration.md's table is stale: run .venv/bin/python -m stackconfig.docs"
    )


def test_every_config_field_has_a_description() -> None:
    missing = [name for name, field in StackConfig.model_fields.items() if not field.description]
    assert missing == []


def locked_packages(lock: str, at_least: int = 50) -> dict[str, str]:
    """name -> version of a lock.sh output; each pin must carry hashes."""
    text = (ROOT / lock).read_text()
    # One block per package: its `name==version [; marker] \` line and the hash lines after it.
    blocks = re.split(r"^(?=[a-z0-9_.-]+==)", text, flags=re.M)[1:]
    locked = {}
    for block in blocks:
        name, version = re.match(r"([a-z0-9_.-]+)==([^\s;]+)", block).groups()  # type: ignore[union-attr]
        locked[name] = version
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{name} is pinned without a hash"
    assert len(locked) >= at_least
    return locked


@pytest.mark.parametrize(
    ("lock", "prefix"),
    [
        ("images/mlflow/requirements.lock", ""),
        ("images/mlflow-previous/requirements.lock", "PREVIOUS_"),
    ],
)
def test_the_mlflow_image_locks_install_the_pinned_versions_with_hashes(
    lock: str, prefix: str
) -> None:
    """images/mlflow/lock.sh [--previous] wrote the lock from versions.env; each pin has hashes."""
    locked, versions = locked_packages(lock), pinned_versions()
    assert locked["mlflow"] == versions[f"{prefix}MLFLOW_VERSION"]
    assert locked["mlflow-oidc-auth"] == versions[f"{prefix}MLFLOW_OIDC_AUTH_VERSION"]
    assert locked["psycopg"] == locked["psycopg-binary"] == versions["PSYCOPG_VERSION"]


def test_the_mlflow_image_installs_its_installer_hash_checked_at_the_dev_pin() -> None:
    """The uv that installs the image's lock is the uv requirements-dev.txt pins (which wrote
    the lock), itself installed with --require-hashes from installer.lock."""
    installer = locked_packages("images/mlflow/installer.lock", at_least=1)
    assert installer == {"uv": requirement_pins("requirements-dev.txt")["uv"]}
    dockerfile = (ROOT / "images/mlflow/Dockerfile").read_text()
    assert "--require-hashes --no-deps --only-binary :all: -r /opt/mlflow-build/installer.lock" in (
        dockerfile
    )


def test_the_previous_release_images_are_named_for_the_versions_they_hold() -> None:
    pins = pinned_versions()
    keycloak, mlflow = pins["LOCAL_PREVIOUS_KEYCLOAK_IMAGE"], pins["LOCAL_PREVIOUS_MLFLOW_IMAGE"]
    assert f":{pins['PREVIOUS_KEYCLOAK_VERSION']}-" in keycloak
    plugin = pins["PREVIOUS_MLFLOW_OIDC_AUTH_VERSION"]
    assert f":{pins['PREVIOUS_MLFLOW_VERSION']}-oidc-{plugin}-" in mlflow
    assert pins["PREVIOUS_KEYCLOAK_VERSION"] != pins["KEYCLOAK_VERSION"]
