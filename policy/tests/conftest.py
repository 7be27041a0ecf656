"""Fixtures of the policy pack's tests; helpers live in policy_wire.py (a unique module name)."""

from __future__ import annotations

import pytest
from policy_wire import Analyze, make_analyzer


@pytest.fixture()
def analyze() -> Analyze:
    return make_analyzer()
