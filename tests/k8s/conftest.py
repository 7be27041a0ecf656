"""The two rendered stacks of the kubernetes target, made once for every module of tests/k8s."""

from __future__ import annotations

import pytest

from tests.cli.project import CliProject
from tests.k8s.rendered import (
    ACCESS_KEY_ID,
    EXTERNAL_PASSWORDS,
    REDIS_PASSWORD,
    SECRET_ACCESS_KEY,
    Rendered,
    render,
)
from tests.workdir import pulumi_cli_problem

PRODUCTION = {
    "namespace": "mlflow-prod",
    "ingressCertificate": "mlflow-tls",
    "configureRealm": False,
    "artifacts": {"bucket": "ml-artifacts/mlflow", "endpointUrl": "https://s3.example.com"},
}
PRODUCTION_SECRETS = {
    "kubernetes.artifacts.accessKeyId": ACCESS_KEY_ID,
    "kubernetes.artifacts.secretAccessKey": SECRET_ACCESS_KEY,
    "kubernetes.redisUrl": f"redis://:{REDIS_PASSWORD}@redis.cache.svc:6379/0",
}
MANAGED = {
    "namespace": "mlflow-dev",
    "profile": "dev",
    "certManagerIssuer": "letsencrypt",
    "configureRealm": False,
    "artifacts": {"bucket": "dev-artifacts"},
}
MANAGED_SECRETS = {
    "kubernetes.artifacts.accessKeyId": ACCESS_KEY_ID,
    "kubernetes.artifacts.secretAccessKey": SECRET_ACCESS_KEY,
    **{
        f"kubernetes.externalDatabases.{key}": (
            f"postgresql://{key}_user:{password}@db.example.com:5432/{key}"
        )
        for key, password in EXTERNAL_PASSWORDS.items()
    },
}


@pytest.fixture(scope="session")
def k8s_project(tmp_path_factory: pytest.TempPathFactory) -> CliProject:
    problem = pulumi_cli_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return CliProject(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="session")
def production(k8s_project: CliProject) -> Rendered:
    return render(k8s_project, "k8s-production", PRODUCTION, PRODUCTION_SECRETS)


@pytest.fixture(scope="session")
def managed(k8s_project: CliProject) -> Rendered:
    return render(k8s_project, "k8s-managed", MANAGED, MANAGED_SECRETS, {"mlflowReplicas": 3})
