"""A second `up` changes nothing; changes made by hand in Keycloak are seen and undone."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pulumi import automation as auto

from tests.support.deployment import ACCESS_TOKEN_SECONDS, CONTAINERS, Deployment, docker, log


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


def container_ids() -> dict[str, str]:
    return {name: docker("inspect", "-f", "{{.Id}}", name).strip() for name in CONTAINERS}


def test_a_postgres_major_version_change_is_refused_before_anything_is_touched(
    deployment: Deployment,
) -> None:
    """Postgres 18 cannot open 17's data directory: preview and up refuse the bump with the
    upgrade path, and every container (both Postgres servers among them) is the one that ran."""
    running = container_ids()
    written_by = deployment.stack.get_config("postgresImage").value
    deployment.set_config("postgresImage", written_by.replace(":17", ":18", 1))
    try:
        for attempt in (deployment.preview, deployment.up):
            with pytest.raises(auto.CommandError) as refused:
                attempt(log)
            said = str(refused.value)
            assert "written by Postgres 17, and Postgres 18 cannot open it" in said, said
            assert "Fix: set postgresImage back to a 17.x image" in said
            assert "'Upgrading Postgres'" in said
    finally:
        deployment.set_config("postgresImage", written_by)
    assert {
        name: docker("inspect", "-f", "{{.Id}}", name).strip() for name in CONTAINERS
    } == running
    deployment.preview(log, expect_no_changes=True)
