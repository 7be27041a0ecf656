"""Teams and their MLflow permissions declared in the stack config, enforced by the real
mlflow-oidc-auth, kept by `up` against changes made by hand.

The stack declares (tests/support/deployment.py): team data-science with EDIT on experiments
matching ^ds- and READ on ^shared-; dana is in that team only, alice in no team.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.e2e.browser_login import sign_in
from tests.e2e.team_data import ensure_experiment, experiment_by_name
from tests.support.deployment import PERMISSIONS, Deployment, e2e_config, log, poll

TEAM = "data-science"
PATTERNS = f"/api/2.0/mlflow/permissions/groups/{TEAM}/experiment-patterns"
# mlflow-oidc-auth caches a person's permissions for 30 s (PERMISSION_CACHE_TTL_SECONDS).
CACHE_BOUND = 30 + 15


def _changes(summary: Mapping[Any, int]) -> dict[str, int]:
    """A preview's planned changes by operation name, without the unchanged."""
    named = {str(getattr(op, "value", op)): count for op, count in summary.items()}
    return {op: count for op, count in named.items() if op != "same" and count}


def _token(deployment: Deployment, username: str) -> str:
    return str(deployment.user_tokens(username)["access_token"])


def _log_a_run(mlflow: httpx.Client, experiment_id: str) -> int:
    """Status of creating a run in the experiment and logging a metric to it."""
    run = mlflow.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
    if run.status_code != 200:
        return run.status_code
    logged = mlflow.post(
        "/api/2.0/mlflow/runs/log-metric",
        json={
            "run_id": run.json()["run"]["info"]["run_id"],
            "key": "auc",
            "value": 0.81,
            "timestamp": 0,
        },
    )
    return logged.status_code


def _visible(mlflow: httpx.Client) -> set[str]:
    found = mlflow.post("/api/2.0/mlflow/experiments/search", json={"max_results": 1000})
    assert found.status_code == 200, found.text
    return {experiment["name"] for experiment in found.json().get("experiments", [])}


def _team_patterns(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """The team's pattern grants as the plugin holds them, by pattern (read as an admin)."""
    with deployment.mlflow(deployment.stack_admin_token()) as admin:
        listed = admin.get(PATTERNS)
    assert listed.status_code == 200, listed.text
    return {grant["regex"]: grant for grant in listed.json()}


@pytest.fixture(scope="module")
def experiments(deployment: Deployment) -> dict[str, str]:
    """shared-baseline and finance-q3, made by an admin; ds-churn, made by dana herself."""
    with deployment.mlflow(deployment.stack_admin_token()) as admin:
        made = {name: ensure_experiment(admin, name) for name in ("shared-baseline", "finance-q3")}
    with deployment.mlflow(_token(deployment, "dana")) as dana:
        made["ds-churn"] = ensure_experiment(dana, "ds-churn")
    return made


@pytest.fixture
def declared_permissions(deployment: Deployment) -> Iterator[list[dict[str, Any]]]:
    """A copy of the declared permissions to change; the stack ends as e2e_config declares."""
    yield copy.deepcopy(PERMISSIONS)
    deployment.set_config("permissions", PERMISSIONS)
    deployment.up(log)


def test_a_team_member_edits_ds_experiments_reads_shared_ones_and_cannot_see_others(
    deployment: Deployment, experiments: dict[str, str]
) -> None:
    with deployment.mlflow(_token(deployment, "dana")) as dana:
        assert _log_a_run(dana, experiments["ds-churn"]) == 200
        assert experiment_by_name(dana, "shared-baseline").status_code == 200
        assert _log_a_run(dana, experiments["shared-baseline"]) == 403
        assert experiment_by_name(dana, "finance-q3").status_code == 403
        visible = _visible(dana)
    assert {"ds-churn", "shared-baseline"} <= visible
    assert "finance-q3" not in visible


def test_a_member_of_no_team_sees_none_of_the_teams_experiments(
    deployment: Deployment, experiments: dict[str, str]
) -> None:
    with deployment.mlflow(_token(deployment, "alice")) as alice:
        assert not _visible(alice) & set(experiments)
        for name in experiments:
            assert experiment_by_name(alice, name).status_code == 403, name


def test_a_level_changed_in_config_changes_what_the_member_may_do(
    deployment: Deployment,
    experiments: dict[str, str],
    declared_permissions: list[dict[str, Any]],
) -> None:
    shared = next(p for p in declared_permissions if p["pattern"] == "^shared-")
    shared["level"] = "EDIT"
    deployment.set_config("permissions", declared_permissions)
    assert _changes(deployment.preview(log).change_summary) == {"update": 1}
    deployment.up(log)
    assert _team_patterns(deployment)["^shared-"]["permission"] == "EDIT"
    with deployment.mlflow(_token(deployment, "dana")) as dana:
        allowed_after = poll(
            lambda: _log_a_run(dana, experiments["shared-baseline"]) == 200, CACHE_BOUND
        )
    log(f"EDIT on ^shared- took effect {allowed_after:.1f}s after `up`")


def test_a_permission_changed_in_the_plugin_is_drift_that_up_undoes(
    deployment: Deployment, experiments: dict[str, str]
) -> None:
    grant = _team_patterns(deployment)["^ds-"]
    assert grant["permission"] == "EDIT"
    # What an admin clicking in the plugin's UI sends: the team's ^ds- grant lowered to READ.
    with deployment.mlflow(deployment.stack_admin_token()) as admin:
        lowered = admin.patch(
            f"{PATTERNS}/{grant['id']}",
            json={"regex": "^ds-", "priority": grant["priority"], "permission": "READ"},
        )
    assert lowered.status_code == 200, lowered.text
    assert _team_patterns(deployment)["^ds-"]["permission"] == "READ"

    assert _changes(deployment.preview(log).change_summary) == {}  # the state knows nothing
    assert _changes(deployment.preview(log, refresh=True).change_summary) == {"update": 1}

    deployment.up(log, refresh=True)
    assert _team_patterns(deployment)["^ds-"]["permission"] == "EDIT"
    with deployment.mlflow(_token(deployment, "dana")) as dana:
        poll(lambda: _log_a_run(dana, experiments["ds-churn"]) == 200, CACHE_BOUND)


def test_a_permission_deleted_in_the_plugin_is_created_again_by_up(
    deployment: Deployment,
) -> None:
    grant = _team_patterns(deployment)["^shared-"]
    with deployment.mlflow(deployment.stack_admin_token()) as admin:
        assert admin.delete(f"{PATTERNS}/{grant['id']}").status_code == 200
    assert "^shared-" not in _team_patterns(deployment)
    deployment.up(log, refresh=True)
    restored = _team_patterns(deployment)["^shared-"]
    assert restored["permission"] == "READ" and restored["id"] != grant["id"]


def _with_alice_in_the_team(inside: bool) -> list[dict[str, Any]]:
    """e2e_config's people, alice put in the team or not (as declared)."""
    return [
        {**user, "teams": [TEAM]} if user["username"] == "alice" and inside else user
        for user in e2e_config()["users"]
    ]


def test_leaving_a_team_ends_the_pat_and_session_that_carried_its_grants(
    deployment: Deployment, experiments: dict[str, str], browser: Browser
) -> None:
    """alice (in MLflow's user group, so still admitted) joins the team, signs in and mints a
    PAT: both read shared-baseline by the team's grant. The config takes her out of the team:
    after `up` MLflow refuses that PAT and that session, and her next sign-in reads nothing
    of the team's."""
    read = f"/api/2.0/mlflow/experiments/get?experiment_id={experiments['shared-baseline']}"
    deployment.set_config("users", _with_alice_in_the_team(True))
    deployment.up(log)
    try:
        inside = browser.new_context()
        sign_in(inside.new_page(), deployment, "alice", deployment.set_known_password("alice"))
        expiry = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        with deployment.mlflow(_token(deployment, "alice")) as alice:
            made = alice.post(
                "/api/2.0/mlflow/users/current/tokens",
                json={"name": f"e2e-team-{uuid.uuid4().hex[:8]}", "expiration": expiry},
            )
        assert made.status_code == 201, made.text

        def answers() -> dict[str, int]:
            with deployment.mlflow(basic=("alice@example.com", made.json()["token"])) as pat:
                by_pat = pat.get(read).status_code
            by_session = inside.request.get(f"{deployment.mlflow_url}{read}", max_redirects=0)
            return {"personal access token": by_pat, "browser session": by_session.status}

        poll(lambda: set(answers().values()) == {200}, CACHE_BOUND)
        deployment.set_config("users", _with_alice_in_the_team(False))
        deployment.up(log)
        refused = answers()
        assert 200 not in refused.values(), refused
        inside.close()

        again = browser.new_context()
        sign_in(again.new_page(), deployment, "alice", deployment.set_known_password("alice"))
        url = f"{deployment.mlflow_url}{read}"
        poll(lambda: again.request.get(url).status == 403, CACHE_BOUND)
        again.close()
    finally:
        deployment.set_config("users", _with_alice_in_the_team(False))
        deployment.up(log)
