"""`tls: acme` against a real ACME server, on a stack of its own.

The certificate authority is Pebble (Let's Encrypt's ACME test server, PEBBLE_VERSION, built by
toolchain/acme.sh), with its challenge server answering DNS for every name with 127.0.0.1. The
edge proxy is Caddy at the version the default proxyImage pins (LOCAL_CADDY_IMAGE, built from
its Go module). Nothing is imitated: Caddy registers an ACME account, Pebble validates the
challenge by connecting to the proxy's published port, and issues the certificate.

- Pebble's ACME directory listens on the Docker bridge's gateway (the host, as the proxy's
  container reaches it) over HTTPS with a certificate of a test CA: the stack is told the
  directory (`acmeCa`) and that CA (`acmeCaRoot`), as for a company's private ACME server.
- Chromium trusts Pebble's root (from its management API) in its NSS database and signs in
  with no certificate error allowed.
- Renewal: Pebble issues 40-minute certificates, so the certificate is always inside Caddy's
  renewal window (less than five maintenance intervals of 10 min left). Caddy checks its
  certificates when it starts and every 10 minutes; the test restarts the proxy to have the
  check now, and sees a new certificate served, renewed over ACME with the account kept in the
  proxy's data volume.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, Playwright

from stackrules.names import resource_prefix
from stackrules.versions import pinned_versions
from tests.e2e.browser_login import chromium_trusting, sign_in
from tests.support.deployment import Deployment, docker, e2e_config, log, poll, remove_leftovers

STACK = "acme"
MLFLOW_HOST, KEYCLOAK_HOST = "mlflow.acme.test", "auth.acme.test"  # toolchain/hosts.sh
PORTS = {
    "keycloakPort": 18086,
    "mlflowPort": 15006,
    "mlflowDbPort": 25444,
    "keycloakDbPort": 25445,
    "httpsPort": 19443,
    "httpPort": 19880,
}
ACME_PORT, MANAGEMENT_PORT, DNS_PORT, DNS_MANAGEMENT_PORT = 14000, 14001, 18053, 18055
VALIDITY_SECONDS = 2400
REPO = Path(__file__).resolve().parents[2]


def _test_ca_and_listener_certificate(address: str) -> tuple[str, str, str]:
    """A test CA, and a certificate it signs for Pebble's listener on `address` (an IP, as
    the proxy's container reaches the host) and 127.0.0.1. PEM: CA, certificate, key.
    Not components.docker.certificates: its CA's name constraints permit DNS names only."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME test server CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    addresses = [ipaddress.ip_address(a) for a in (address, "127.0.0.1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(a) for a in addresses]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        ca.public_bytes(pem).decode(),
        cert.public_bytes(pem).decode(),
        key_pem.decode(),
    )


@dataclass
class Pebble:
    directory: str
    listener_ca: str
    """The PEM CA of Pebble's own HTTPS (what the stack's acmeCaRoot is)."""
    management: str
    ca_file: Path

    def root(self) -> str:
        """The root that signs the certificates Pebble issues (new at each Pebble start)."""
        answer = httpx.get(f"{self.management}/roots/0", verify=str(self.ca_file), timeout=10)
        answer.raise_for_status()
        return answer.text


def _bridge_gateway() -> str:
    gateways = json.loads(
        docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}")
    )
    # Docker 20.10 leaves Gateway out of the default bridge's config: it is then the subnet's
    # first address (docker0's own).
    subnet = ipaddress.ip_network(gateways[0]["Subnet"])
    return str(gateways[0].get("Gateway") or next(subnet.hosts()))


@pytest.fixture(scope="module")
def pebble() -> Iterator[Pebble]:
    bin_dir = Path(
        subprocess.run(
            ["bash", str(REPO / "toolchain" / "acme.sh")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    gateway = _bridge_gateway()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        ca, cert, key = _test_ca_and_listener_certificate(gateway)
        for name, text in (("ca.pem", ca), ("cert.pem", cert), ("key.pem", key)):
            (work / name).write_text(text)
        config = {
            "pebble": {
                "listenAddress": f"{gateway}:{ACME_PORT}",
                "managementListenAddress": f"127.0.0.1:{MANAGEMENT_PORT}",
                "certificate": str(work / "cert.pem"),
                "privateKey": str(work / "key.pem"),
                # Where it validates a challenge: the proxy's published ports on 127.0.0.1.
                "httpPort": PORTS["httpPort"],
                "tlsPort": PORTS["httpsPort"],
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "retryAfter": {"authz": 3, "order": 5},
                "keyAlgorithm": "ecdsa",
                "profiles": {
                    "default": {"description": "short-lived", "validityPeriod": VALIDITY_SECONDS}
                },
            }
        }
        (work / "pebble.json").write_text(json.dumps(config))
        logs = {name: (work / f"{name}.log").open("w") for name in ("challtestsrv", "pebble")}
        processes = [
            subprocess.Popen(
                [
                    str(bin_dir / "pebble-challtestsrv"),
                    "-dnsserver",
                    f"127.0.0.1:{DNS_PORT}",
                    "-management",
                    f"127.0.0.1:{DNS_MANAGEMENT_PORT}",
                    "-defaultIPv4",
                    "127.0.0.1",
                    "-defaultIPv6",
                    "",
                    *("-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""),
                ],
                stdout=logs["challtestsrv"],
                stderr=subprocess.STDOUT,
            ),
            subprocess.Popen(
                [
                    str(bin_dir / "pebble"),
                    "-config",
                    str(work / "pebble.json"),
                    "-dnsserver",
                    f"127.0.0.1:{DNS_PORT}",
                ],
                stdout=logs["pebble"],
                stderr=subprocess.STDOUT,
                env={**os.environ, "PEBBLE_VA_NOSLEEP": "1"},
            ),
        ]
        served = Pebble(
            directory=f"https://{gateway}:{ACME_PORT}/dir",
            listener_ca=ca,
            management=f"https://127.0.0.1:{MANAGEMENT_PORT}",
            ca_file=work / "ca.pem",
        )

        def answers() -> bool:
            try:
                return httpx.get(served.directory, verify=str(work / "ca.pem")).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            poll(answers, timeout=30, interval=0.5)
            yield served
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
            for name, handle in logs.items():
                handle.close()
                print(f"--- {name} log (tail)\n{(work / f'{name}.log').read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stack(pebble: Pebble) -> Iterator[Deployment]:
    remove_leftovers(log, resource_prefix(STACK))
    with tempfile.TemporaryDirectory() as scratch:
        config: dict[str, Any] = {
            **e2e_config(),
            **PORTS,
            "tls": "acme",
            "acmeEmail": "ops@example.org",
            "acmeCa": pebble.directory,
            "acmeCaRoot": pebble.listener_ca,
            "mlflowHostname": MLFLOW_HOST,
            "keycloakHostname": KEYCLOAK_HOST,
            "proxyImage": pinned_versions()["LOCAL_CADDY_IMAGE"],
        }
        deployed = Deployment.create(Path(scratch), log, STACK, config)
        try:
            yield deployed
        finally:
            print(docker("logs", "--tail", "40", f"{resource_prefix(STACK)}-proxy", check=False))
            deployed.destroy(log)


def served_certificate(host: str, root: str) -> x509.Certificate:
    """The certificate the proxy serves for `host`, verified against `root` (as a browser
    that trusts only that root would)."""
    context = ssl.create_default_context(cadata=root)
    with (
        socket.create_connection(("127.0.0.1", PORTS["httpsPort"]), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def wait_for_certificate(host: str, root: str, unlike: int | None = None) -> x509.Certificate:
    """Poll until the proxy serves a certificate from the ACME server for `host` (with a
    serial other than `unlike`)."""
    found: list[x509.Certificate] = []

    def issued() -> bool:
        try:
            cert = served_certificate(host, root)
        except (OSError, ssl.SSLError):
            return False
        found[:] = [cert]
        return cert.serial_number != unlike

    seconds = poll(issued, timeout=120, interval=1)
    print(f"{host}: a certificate from the ACME server served after {seconds:.1f} s")
    return found[0]


@pytest.fixture(scope="module")
def trusting_browser(pebble: Pebble, playwright: Playwright) -> Iterator[Browser]:
    """Chromium with Pebble's root in its NSS database: no certificate error is ignored."""
    with chromium_trusting(playwright, pebble.root(), "pebble-root") as browser:
        yield browser


def _names(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)


def test_the_acme_server_certifies_both_hostnames(stack: Deployment, pebble: Pebble) -> None:
    assert stack.mlflow_url == f"https://{MLFLOW_HOST}:{PORTS['httpsPort']}"
    assert stack.keycloak_url == f"https://{KEYCLOAK_HOST}:{PORTS['httpsPort']}"
    root = pebble.root()
    for host in (MLFLOW_HOST, KEYCLOAK_HOST):
        cert = wait_for_certificate(host, root)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        print(f"{host}: issuer {cert.issuer.rfc4514_string()}, lifetime {lifetime}")
        assert host in _names(cert)
        assert "Pebble" in cert.issuer.rfc4514_string()
        assert abs(lifetime.total_seconds() - VALIDITY_SECONDS) <= 1


def test_chromium_signs_in_over_the_acme_certificate(
    stack: Deployment, pebble: Pebble, trusting_browser: Browser
) -> None:
    root = pebble.root()
    for host in (MLFLOW_HOST, KEYCLOAK_HOST):
        wait_for_certificate(host, root)
    context = trusting_browser.new_context()  # certificate errors are NOT ignored
    page = context.new_page()
    sign_in(page, stack, "alice", stack.set_known_password("alice"))
    session = {c["name"]: c for c in context.cookies(stack.mlflow_url)}["session"]
    assert session["secure"] is True and session["httpOnly"] is True, session
    answer = page.goto(f"{stack.mlflow_url}/api/2.0/mlflow/experiments/search?max_results=1")
    assert answer is not None and answer.status == 200
    context.close()


def test_a_certificate_in_its_renewal_window_is_renewed_over_acme(
    stack: Deployment, pebble: Pebble, trusting_browser: Browser
) -> None:
    root = pebble.root()
    proxy = f"{resource_prefix(STACK)}-proxy"
    before = wait_for_certificate(MLFLOW_HOST, root)
    started, restarted_at = time.monotonic(), dt.datetime.now(dt.UTC)
    docker("restart", proxy)
    after = wait_for_certificate(MLFLOW_HOST, root, unlike=before.serial_number)
    print(
        f"renewed {time.monotonic() - started:.1f} s after the restart: serial "
        f"{before.serial_number:x} -> {after.serial_number:x}, "
        f"valid from {before.not_valid_before_utc} -> {after.not_valid_before_utc}"
    )
    assert after.not_valid_before_utc >= before.not_valid_before_utc
    # Caddy logs to stderr; since the restart, only the new process's lines.
    since = restarted_at - dt.timedelta(seconds=1)
    logged = subprocess.run(
        ["docker", "logs", "--since", since.strftime("%Y-%m-%dT%H:%M:%SZ"), proxy],
        capture_output=True,
        text=True,
        check=True,
    )
    proxy_log = logged.stdout + logged.stderr
    assert "certificate renewed successfully" in proxy_log, proxy_log[-3000:]
    # A renewal with the account kept in the data volume, not a new registration.
    assert "new ACME account registered" not in proxy_log
    context = trusting_browser.new_context()
    page = context.new_page()
    sign_in(page, stack, "bella", stack.set_known_password("bella"))
    context.close()
