"""What each fault costs the e2e stack under load, in one run (not a test; the assertions are
tests/e2e/test_16_faults.py's): per fault, seconds until every container is healthy again by
itself, requests failed meanwhile, writes acknowledged, writes lost.

Run with the toolchain's env sourced:  .venv/bin/python -m benchmarks.faults
It deploys the e2e test stack and restarts the Docker engine, so it must not run beside the
suite or any other container work.
"""

from __future__ import annotations

import dataclasses
import functools
import sys

from benchmarks.cli import arguments, emit, human_output
from benchmarks.engine import deployed_e2e_stack, log, progress
from benchmarks.plots import bar_chart
from tests.e2e.faults import Load, Outcome, crash, restart_docker_engine, under_load
from tests.support.deployment import CONTAINERS

USER = "alice"


def main() -> None:
    options = arguments(__doc__)
    with human_output(options):
        rows = measure()
        report(rows)
    emit(options, {"faults": [dataclasses.asdict(row) for row in rows]})
    sys.exit(1 if any(row.lost_writes for row in rows) else 0)


def measure() -> list[Outcome]:
    with deployed_e2e_stack() as (deployment, _):
        with deployment.mlflow(deployment.user_tokens(USER)["access_token"]) as mlflow:
            pat = mlflow.patch("/api/2.0/mlflow/users/access-token", json={}).json()["token"]
            experiment = mlflow.post(
                "/api/2.0/mlflow/experiments/create", json={"name": "fault-benchmark"}
            ).json()["experiment_id"]
        faults = [(f"crash of {name}", name) for name in CONTAINERS]
        faults.append(("docker engine restart", ""))
        rows = []
        for fault, container in faults:
            progress(fault)
            with deployment.mlflow(deployment.user_tokens(USER)["access_token"]) as mlflow:
                run_id = mlflow.post(
                    "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}
                ).json()["run"]["info"]["run_id"]
            load = Load(deployment, run_id, USER, deployment.set_known_password(USER), pat)
            inflict = functools.partial(crash, container) if container else restart_docker_engine
            rows.append(under_load(load, fault, inflict, list(CONTAINERS), log, container or None))
    return rows


def report(rows: list[Outcome]) -> None:
    print(f"{'fault':36} {'to healthy':>10} {'failed writes':>13} {'failed logins':>13} "
          f"{'acked':>6} {'lost':>4}")  # fmt: skip
    for r in rows:
        print(f"{r.fault:36} {r.seconds_to_healthy:9.1f}s {r.failed_writes:13} "
              f"{r.failed_logins:13} {r.acknowledged_writes:6} {r.lost_writes:4}")  # fmt: skip
    bar_chart(
        "faults",
        "Seconds until every container is healthy again, under load",
        "seconds",
        {row.fault: row.seconds_to_healthy for row in rows},
    )


if __name__ == "__main__":
    main()
