"""A second `up` changes nothing; changes made by hand in Keycloak are seen and undone."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi import automation as auto

from tests.support.deployment import ACCESS_TOKEN_SECONDS, Deployment, log


def changes_of(summary: Mapping[auto.OpType, int] | None) -> dict[str, int]:
    return {str(op): n for op, n in (summary or {}).items() if op != auto.OpType.SAME and n}


def test_a_second_up_has_nothing_to_change(deployment: Deployment) -> None:
    result = deployment.up(log)
    assert changes_of(result.summary.resource_changes) == {}
    # The CLI's own verdict too: `pulumi preview --expect-no-changes` exits non-zero on any diff.
    deployment.preview(log, expect_no_changes=True)


def test_a_hand_changed_token_lifespan_is_shown_by_refresh_and_undone(
    deployment: Deployment,
) -> None:
    admin = deployment.admin()
    admin.update_realm(deployment.realm, {"accessTokenLifespan": 3600})
    preview = deployment.preview(log, refresh=True, diff=True)
    assert preview.change_summary.get(auto.OpType.UPDATE, 0) >= 1, preview.change_summary
    assert "accessTokenLifespan" in preview.stdout
    # A plain `up` trusts the state (still 60 s); `up --refresh` reads Keycloak first.
    deployment.up(log, refresh=True)
    assert admin.get_realm(deployment.realm)["accessTokenLifespan"] == ACCESS_TOKEN_SECONDS


def test_a_user_removed_from_a_group_by_hand_is_shown_by_refresh_and_put_back(
    deployment: Deployment,
) -> None:
    admin = deployment.admin()
    user_id = deployment.user_id("alice")
    (group,) = [g for g in admin.get_user_groups(user_id) if g["name"] == "mlflow"]
    admin.group_user_remove(user_id, group["id"])
    preview = deployment.preview(log, refresh=True, diff=True)
    assert preview.change_summary.get(auto.OpType.UPDATE, 0) >= 1, preview.change_summary
    assert "users-alice-groups" in preview.stdout
    deployment.up(log, refresh=True)
    assert [g["name"] for g in admin.get_user_groups(user_id)] == ["mlflow"]
    deployment.preview(log, expect_no_changes=True, refresh=True)
