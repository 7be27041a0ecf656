"""A second `up` changes nothing; a change made by hand in Keycloak is seen and undone."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from tests.e2e.conftest import _log
from tests.e2e.deployment import ACCESS_TOKEN_SECONDS, PulumiDeployment

pytestmark = pytest.mark.engine


def test_a_second_up_has_nothing_to_change(engine: PulumiDeployment) -> None:
    engine.automation.preview(expect_no_changes=True, on_output=_log, color="never")
    result = engine.up(_log)
    changes = {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"}
    assert changes == {}


def test_a_hand_made_change_in_keycloak_is_detected_and_undone(engine: PulumiDeployment) -> None:
    admin = engine.admin()
    admin.update_realm(engine.realm, {"accessTokenLifespan": 3600})
    engine.automation.refresh(on_output=_log, color="never")
    preview = engine.automation.preview(on_output=_log, color="never")
    updates = preview.change_summary.get(auto.OpType.UPDATE, 0)
    assert updates >= 1, preview.change_summary
    engine.up(_log)
    assert admin.get_realm(engine.realm)["accessTokenLifespan"] == ACCESS_TOKEN_SECONDS
