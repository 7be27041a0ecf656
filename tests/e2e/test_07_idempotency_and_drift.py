"""A second `up` changes nothing; a change made by hand in Keycloak is seen and undone."""

from __future__ import annotations

from pulumi import automation as auto

from tests.e2e.conftest import _log
from tests.e2e.deployment import ACCESS_TOKEN_SECONDS, Deployment


def test_a_second_up_has_nothing_to_change(deployment: Deployment) -> None:
    deployment.stack.preview(expect_no_changes=True, on_output=_log, color="never")
    result = deployment.up(_log)
    changes = {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"}
    assert changes == {}


def test_a_hand_made_change_in_keycloak_is_detected_and_undone(deployment: Deployment) -> None:
    admin = deployment.admin()
    admin.update_realm(deployment.realm, {"accessTokenLifespan": 3600})
    deployment.stack.refresh(on_output=_log, color="never")
    preview = deployment.stack.preview(on_output=_log, color="never")
    updates = preview.change_summary.get(auto.OpType.UPDATE, 0)
    assert updates >= 1, preview.change_summary
    deployment.up(_log)
    assert admin.get_realm(deployment.realm)["accessTokenLifespan"] == ACCESS_TOKEN_SECONDS
