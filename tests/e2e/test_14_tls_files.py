"""`tls: files`: the edge proxy serves the certificate the operator gives as secret config.

An operator's CA and a certificate for both hostnames are made here (as a company CA would),
set with `pulumi config set --secret tlsCertificate/tlsKey` on the session's HTTPS stack
(tests/e2e/tls_stack.py, after test_13 has run on it as `tls: internal`), and `up` switches it
to `tls: files`: only the edge proxy changes. The proxy
presents exactly that certificate, clients trusting that CA reach MLflow and Keycloak over
HTTPS, and the private key appears in no plain text: not in the stack's config file, not in
its state files, not in the stack outputs.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pulumi import automation as auto

from components.docker.certificates import new_authority, new_site_certificate
from stackrules.names import resource_prefix
from tests.e2e.tls_stack import HOSTS, PORTS, STACK
from tests.support.deployment import Deployment, docker, log

SERVICES = ["mlflow-db", "keycloak-db", "keycloak", "mlflow", "mlflow-2"]


@pytest.fixture(scope="module")
def operator_ca() -> dict[str, str]:
    return new_authority("Example Corp internal CA", HOSTS)


@pytest.fixture(scope="module")
def site(operator_ca: dict[str, str]) -> dict[str, str]:
    return new_site_certificate(operator_ca["cert_pem"], operator_ca["key_pem"], HOSTS)


def _container_ids(names: list[str]) -> dict[str, str]:
    return {name: docker("inspect", "--format", "{{.Id}}", name).strip() for name in names}


@pytest.fixture(scope="module")
def stack(tls_stack: Deployment, site: dict[str, str]) -> Iterator[Deployment]:
    prefix = resource_prefix(STACK)
    services = [f"{prefix}-{name}" for name in SERVICES]
    before = _container_ids(services)
    secrets = {"tlsCertificate": site["cert_pem"], "tlsKey": site["key_pem"]}
    tls_stack.stack.set_all_config(
        {key: auto.ConfigValue(text, secret=True) for key, text in secrets.items()}
    )
    tls_stack.set_config("tls", "files")
    tls_stack.up(log)
    # Only the edge proxy changed: the services and their data kept running.
    assert _container_ids(services) == before
    yield tls_stack
    # The last user of the HTTPS stack: it goes now, not at the session's end, after
    # test_99 has checked that nothing of the suite is left on the engine.
    tls_stack.destroy(log)


def _fingerprint(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def test_the_proxy_presents_the_operators_certificate(
    stack: Deployment, site: dict[str, str], operator_ca: dict[str, str]
) -> None:
    context = ssl.create_default_context(cadata=operator_ca["cert_pem"])
    for host in HOSTS:
        with (
            socket.create_connection(("127.0.0.1", PORTS["httpsPort"]), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        assert _fingerprint(ssl.DER_cert_to_PEM_cert(der)) == _fingerprint(site["cert_pem"]), host
    with httpx.Client(verify=context, timeout=15) as client:
        assert client.get(f"{stack.mlflow_url}/health").status_code == 200
        discovery = client.get(
            f"{stack.keycloak_url}/realms/mlflow/.well-known/openid-configuration"
        )
        assert discovery.json()["issuer"] == f"{stack.keycloak_url}/realms/mlflow"
    assert "rootCaCertificate" not in stack.outputs, "files mode has no CA of the stack's own"


def test_the_private_key_is_in_no_plain_text(stack: Deployment, site: dict[str, str]) -> None:
    key_body = "".join(site["key_pem"].splitlines()[1:-1])[:40]
    workdir = Path(stack.stack.workspace.work_dir)
    stack_file = (workdir / f"Pulumi.{STACK}.yaml").read_text()
    state = "".join(p.read_text() for p in (workdir / "state").rglob("*.json"))
    outputs = str(stack.stack.outputs())
    found = {
        "stack file": key_body in stack_file,
        "state files": key_body in state,
        "stack outputs": key_body in outputs,
    }
    print(f"private key found in plain text: {found}")
    assert not any(found.values()), found
    digest = hashlib.sha256(site["key_pem"].encode()).hexdigest()[:12]
    print(f"(key sha256 {digest}… was handed to the proxy as a secret)")
