"""The stack at its defaults, declared once per module for the resource-graph tests."""

from __future__ import annotations

import pytest

from tests.support.harness import DeclaredStack, run_program


@pytest.fixture(scope="module")
def stack() -> DeclaredStack:
    return run_program()
