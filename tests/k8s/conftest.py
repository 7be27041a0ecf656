"""The two rendered stacks of the kubernetes target, made once for every module of tests/k8s."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.cluster import install_crds, running_cluster
from tests.k8s.kubectl import Kubectl
from tests.k8s.rendered import (
    ACCESS_KEY_ID,
    EXTERNAL_PASSWORDS,
    REDIS_PASSWORD,
    SECRET_ACCESS_KEY,
    Rendered,
    render,
)
from tests.support.project import CliProject, new_project
from tests.support.workdir import REPO

CRDS = REPO.parent / "shared" / "crds"

PRODUCTION = {
    "namespace": "mlflow-prod",
    "keycloakWorkload": "operator",
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
    "keycloakWorkload": "operator",
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
    return new_project(tmp_path_factory, "k8s")


@pytest.fixture(scope="session")
def production(k8s_project: CliProject) -> Rendered:
    return render(k8s_project, "k8s-production", PRODUCTION, PRODUCTION_SECRETS)


@pytest.fixture(scope="session")
def managed(k8s_project: CliProject) -> Rendered:
    return render(k8s_project, "k8s-managed", MANAGED, MANAGED_SECRETS, {"mlflowReplicas": 3})


@pytest.fixture(scope="session")
def kube_bin() -> Path:
    """toolchain/kube.sh's bin directory: kube-apiserver, etcd, the controllers, kwok, kubectl
    (built and cached there; scripts/test.sh runs it first so its progress shows)."""
    given = os.environ.get("MKS_KUBE_BIN")
    return Path(given) if given else _toolchain_path("kube.sh")


@pytest.fixture(scope="session")
def pause_tarball() -> Path:
    """toolchain/node.sh: the real node's Debian packages and the pause image (built and
    cached)."""
    return _toolchain_path("node.sh")


def _toolchain_path(script: str) -> Path:
    """Runs a toolchain script, which prints what it made as its last line on stdout."""
    done = subprocess.run(
        ["bash", str(REPO / "toolchain" / script)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"toolchain/{script} failed:\n{done.stderr}", pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def crd_files() -> list[Path]:
    """The Keycloak Operator's and CloudNativePG's CRDs (../shared/crds)."""
    files = sorted(CRDS.glob("keycloak-*/*.yml")) + sorted(CRDS.glob("cloudnative-pg-*/*.yaml"))
    if len(files) < 3:
        pytest.fail(f"the Keycloak and CloudNativePG CRDs are missing from {CRDS}", pytrace=False)
    return files


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, kube_bin: Path, crd_files: list[Path]
) -> Iterator[Kubectl]:
    """One kwokctl cluster (tests/k8s/cluster.py) with the operators' CRDs, for the server-side
    validation of the rendered manifests and for the real `pulumi up`."""
    with running_cluster(kube_bin, tmp_path_factory.mktemp("cluster")) as kubeconfig:
        install_crds(kube_bin / "kubectl", kubeconfig, crd_files)
        yield Kubectl(kube_bin / "kubectl", kubeconfig)
