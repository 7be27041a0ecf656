"""A stack deployed by released code keeps working with this code: the pickled providers its
state holds unpickle here (components/__init__.py's RELEASED_MODULES)."""

from __future__ import annotations

import base64
import subprocess
import sys

import dill  # type: ignore[import-untyped]
import pytest
from pulumi.dynamic import ResourceProvider

import components
from tests.support.harness import ROOT

# main before the components moved into folders: stacks deployed until then name their dynamic
# providers' modules as it did.
LAST_FLAT_LAYOUT = "22d64208e8ab546900dbfc0f40b61ce130fa0510"


def released_pickle(provider_class: type, released_module: str) -> str:
    """How a state written by the released code holds the provider: dill names its class by
    the module it lived in then."""
    moved = provider_class.__module__
    provider_class.__module__ = released_module
    try:
        return base64.b64encode(dill.dumps(object.__new__(provider_class))).decode()
    finally:
        provider_class.__module__ = moved


def providers_of(module_name: str) -> list[type]:
    module = sys.modules[module_name]
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ResourceProvider)
        and value is not ResourceProvider
        and value.__module__ == module.__name__
    ]


@pytest.mark.parametrize("released", sorted(components.RELEASED_MODULES))
def test_a_provider_pickled_under_its_released_module_unpickles_in_a_fresh_process(
    released: str,
) -> None:
    found = providers_of(components.RELEASED_MODULES[released])
    assert found, f"{released}: no dynamic provider left there, drop it from RELEASED_MODULES"
    for provider_class in found:
        # A fresh interpreter, as the dynamic provider's process is: nothing imported first.
        loaded = subprocess.run(
            [
                sys.executable,
                "-c",
                "import base64, sys, dill; "
                "print(type(dill.loads(base64.b64decode(sys.argv[1]))).__qualname__)",
                released_pickle(provider_class, released),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.strip() == provider_class.__qualname__


def test_every_dynamic_provider_of_the_flat_layout_is_still_found() -> None:
    """Each module that held a dynamic provider before the components moved into folders
    (main at LAST_FLAT_LAYOUT) is one of RELEASED_MODULES."""
    listed = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "grep",
            "-l",
            "(ResourceProvider)",
            LAST_FLAT_LAYOUT,
            "--",
            "components",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    held = {line.split(":", 1)[1].removesuffix(".py").replace("/", ".") for line in listed}
    assert held == set(components.RELEASED_MODULES)
