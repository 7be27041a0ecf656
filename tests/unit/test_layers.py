"""Imports point down the layers (docs/architecture.md): pure rules, then the components (the
config model among them), then the wiring; stackctl and the policy pack stand beside the stack
on the rules alone, so that neither runs the stack's code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.harness import ROOT

PROJECT_PACKAGES = {
    "stackrules",
    "stackconfig",
    "components",
    "wiring",
    "stackctl",
    "tests",
    "benchmarks",
}
# Each layer's folder -> the project packages its modules may import (itself included).
MAY_IMPORT = {
    "stackrules": {"stackrules"},
    "stackconfig": {"stackrules", "stackconfig"},
    "components": {"stackrules", "stackconfig", "components"},
    "wiring": {"stackrules", "stackconfig", "components", "wiring"},
    "stackctl": {"stackrules", "stackctl"},
    "policy/stack_policies": {"stackrules"},
}
# The rules are plain Python: no Pulumi SDK, so the policy pack and stackctl can share them.
NO_PULUMI = ("stackrules",)


def imported_modules(path: Path) -> set[str]:
    """The absolute name of every module `path` imports (relative imports are its own)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def imported_roots(path: Path) -> set[str]:
    """The top-level package of every module `path` imports."""
    return {name.split(".")[0] for name in imported_modules(path)}


def modules(layer: str) -> list[Path]:
    found = sorted((ROOT / layer).rglob("*.py"))
    assert found, f"{layer} has no modules: update MAY_IMPORT"
    return found


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    against = {
        str(path.relative_to(ROOT)): sorted(
            (imported_roots(path) & PROJECT_PACKAGES) - MAY_IMPORT[layer]
        )
        for path in modules(layer)
    }
    assert {module: wrong for module, wrong in against.items() if wrong} == {}


@pytest.mark.parametrize("layer", NO_PULUMI)
def test_the_rules_are_plain_python(layer: str) -> None:
    with_pulumi = [
        str(path.relative_to(ROOT))
        for path in modules(layer)
        if any(root == "pulumi" or root.startswith("pulumi_") for root in imported_roots(path))
    ]
    assert with_pulumi == []


# Within components: the realm side and each target stand beside each other on what they share
# (the files directly in components/); none imports another.
COMPONENT_GROUPS = ("identity", "docker", "kubernetes")


def imported_component_groups(path: Path) -> set[str]:
    """The `components.<group>` packages every import of `path` names."""
    parts = [name.split(".") for name in imported_modules(path)]
    return {p[1] for p in parts if p[0] == "components" and len(p) > 1 and p[1] in COMPONENT_GROUPS}


def test_the_component_groups_import_only_what_they_share() -> None:
    against = {}
    for path in modules("components"):
        group = path.parent.name if path.parent.name in COMPONENT_GROUPS else None
        wrong = imported_component_groups(path) - ({group} if group else set())
        if wrong:
            against[str(path.relative_to(ROOT))] = sorted(wrong)
    assert against == {}


TEST_TIERS = ("tests/unit", "tests/cli", "tests/e2e", "tests/k8s", "policy/tests")


def imported_test_packages(path: Path) -> set[str]:
    """The `tests.<package>` every import of `path` names (tests.support, tests.e2e, ...)."""
    return {".".join(n.split(".")[:2]) for n in imported_modules(path) if n.startswith("tests.")}


@pytest.mark.parametrize("tier", TEST_TIERS)
def test_a_test_tier_shares_helpers_only_through_tests_support(tier: str) -> None:
    own = tier.replace("/", ".") if tier.startswith("tests/") else None
    allowed = {"tests.support", *([own] if own else [])}
    against = {
        str(path.relative_to(ROOT)): sorted(imported_test_packages(path) - allowed)
        for path in modules(tier)
    }
    assert {module: wrong for module, wrong in against.items() if wrong} == {}


def test_the_layer_check_sees_a_wrong_import(tmp_path: Path) -> None:
    """The check itself: an upward import is found."""
    module = tmp_path / "upward.py"
    module.write_text("from wiring.identity import declare_identity\nimport stackconfig\n")
    assert (imported_roots(module) & PROJECT_PACKAGES) - MAY_IMPORT["stackctl"] == {
        "wiring",
        "stackconfig",
    }
    module.write_text("from tests.e2e.faults import crash\nfrom tests.support import harness\n")
    assert imported_test_packages(module) == {"tests.e2e", "tests.support"}
    module.write_text("from components.docker.mlflow_server import MlflowServer\n")
    assert imported_component_groups(module) == {"docker"}
