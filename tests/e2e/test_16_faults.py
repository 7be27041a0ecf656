"""Nothing lost when a host misbehaves: each container of the stack crashed in turn under load,
then the Docker engine itself restarted. Every container comes back by its restart policy and
health check alone (nobody runs `pulumi up`), every write MLflow acknowledged is still there,
users and realm settings are unchanged, and a signed-in user's session carries on without a
password."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.faults import Load, Outcome, crash, restart_docker_engine, under_load
from tests.support.deployment import CONTAINERS, Deployment, log

USER = "alice"
REALM_SETTINGS = ("ssoSessionIdleTimeout", "ssoSessionMaxLifespan", "accessTokenLifespan",
                  "bruteForceProtected", "passwordPolicy")  # fmt: skip


@pytest.fixture(scope="module")
def personal_token(deployment: Deployment) -> str:
    """An MLflow personal access token: writes that need MLflow and its Postgres alone."""
    with deployment.mlflow(deployment.user_tokens(USER)["access_token"]) as mlflow:
        issued = mlflow.patch("/api/2.0/mlflow/users/access-token", json={})
    assert issued.status_code == 200, issued.text
    return str(issued.json()["token"])


@pytest.fixture(scope="module")
def experiment(deployment: Deployment) -> str:
    with deployment.mlflow(deployment.user_tokens(USER)["access_token"]) as mlflow:
        created = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"faults-{int(time.time())}"}
        )
    assert created.status_code == 200, created.text
    return str(created.json()["experiment_id"])


def identities(deployment: Deployment) -> dict[str, Any]:
    admin = deployment.admin()
    realm = admin.get_realm(deployment.realm)
    return {
        "users": sorted(u["username"] for u in admin.get_users()),
        "realm": {key: realm.get(key) for key in REALM_SETTINGS},
    }


@pytest.fixture(scope="module")
def outcomes() -> Iterator[list[Outcome]]:
    found: list[Outcome] = []
    yield found
    for outcome in found:
        log(outcome.row())


FAULTS = [*((f"crash of {name}", name) for name in CONTAINERS), ("docker engine", "")]


@pytest.mark.parametrize(("fault", "container"), FAULTS, ids=[f[0] for f in FAULTS])
def test_the_stack_heals_itself_and_loses_no_acknowledged_write(
    deployment: Deployment,
    personal_token: str,
    experiment: str,
    outcomes: list[Outcome],
    measurements: dict[str, float],
    fault: str,
    container: str,
) -> None:
    before = identities(deployment)
    signed_in = deployment.user_tokens(USER)
    with deployment.mlflow(signed_in["access_token"]) as mlflow:
        run_id = mlflow.post(
            "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}
        ).json()["run"]["info"]["run_id"]
    load = Load(
        deployment=deployment,
        run_id=run_id,
        username=USER,
        password=deployment.set_known_password(USER),
        access_token=personal_token,
    )
    inflict = functools.partial(crash, container) if container else restart_docker_engine
    outcome = under_load(load, fault, inflict, list(CONTAINERS), log, container or None)
    outcomes.append(outcome)
    measurements[f"{fault}: to healthy (s)"] = outcome.seconds_to_healthy
    measurements[f"{fault}: failed requests"] = outcome.failed_writes + outcome.failed_logins

    assert outcome.acknowledged_writes > 0
    assert outcome.lost_writes == 0, f"{fault} lost {outcome.lost_writes} acknowledged writes"
    assert identities(deployment) == before
    # Signed in before the fault, signed in after: the session's refresh token still works.
    renewed = deployment.oidc().refresh_token(signed_in["refresh_token"])
    with deployment.mlflow(renewed["access_token"]) as mlflow:
        assert mlflow.get("/api/2.0/mlflow/users/current").status_code == 200
