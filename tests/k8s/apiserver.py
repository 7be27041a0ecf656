"""A real Kubernetes API server on 127.0.0.1 (etcd + kube-apiserver, no nodes), for server-side
validation of rendered manifests (`kubectl apply --dry-run=server --validate=strict`).

The binaries come from toolchain/kube.sh, whose last stdout line is their directory:

    bin_dir = Path(subprocess.run(["bash", "toolchain/kube.sh"], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.splitlines()[-1])
    with running_apiserver(bin_dir, tmp_path) as kubeconfig:
        install_crds(bin_dir / "kubectl", kubeconfig, [...])

Certificates are made with the `openssl` CLI: a throwaway CA signs the serving certificate and
an admin client certificate (group system:masters, authorization RBAC); an EC key signs the
service-account tokens. No controller-manager runs, so a new namespace has no `default`
ServiceAccount and Pods (not Deployments) fail admission unless the test creates one.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LOG_TAIL_LINES = 50

# The X.509 profiles of the throwaway certificates (openssl req -config ... -extensions NAME).
OPENSSL_CONFIG = f"""\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:{HOST}, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class ApiServerError(RuntimeError):
    """etcd or kube-apiserver did not start, or kubectl failed; the message says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ApiServerError(f"openssl {' '.join(args)} failed:\n{done.stderr.strip()}")


def _certificate(pki: Path, name: str, subject: str, signed: bool = True) -> None:
    """pki/name.{crt,key}: a P-256 key and its certificate of profile `name` (OPENSSL_CONFIG),
    signed by pki/ca (or self-signed, for the CA itself)."""
    issuer = ("-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key")) if signed else ()
    _openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-days", "7", "-config", str(pki / "openssl.cnf"), "-extensions", name, *issuer),
        *("-subj", subject, "-keyout", str(pki / f"{name}.key"), "-out", str(pki / f"{name}.crt")),
    )


def _make_certificates(pki: Path) -> None:
    """ca.{crt,key}, server.{crt,key} (127.0.0.1), client.{crt,key} (an admin in the group
    system:masters) and sa.{key,pub} (sign and check service-account tokens)."""
    pki.mkdir(parents=True, exist_ok=True)
    (pki / "openssl.cnf").write_text(OPENSSL_CONFIG)
    _certificate(pki, "ca", "/CN=mks-test-ca", signed=False)
    _certificate(pki, "server", "/CN=kube-apiserver")
    _certificate(pki, "client", "/O=system:masters/CN=mks-test-admin")
    ec = ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    _openssl("genpkey", *ec, "-out", str(pki / "sa.key"))
    _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def _write_kubeconfig(path: Path, pki: Path, port: int) -> None:
    """An admin kubeconfig (JSON is YAML) with absolute paths to the certificates."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "mks-test",
                "cluster": {
                    "server": f"https://{HOST}:{port}",
                    "certificate-authority": str(pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": "mks-test-admin",
                "user": {
                    "client-certificate": str(pki / "client.crt"),
                    "client-key": str(pki / "client.key"),
                },
            }
        ],
        "contexts": [
            {"name": "mks-test", "context": {"cluster": "mks-test", "user": "mks-test-admin"}}
        ],
        "current-context": "mks-test",
    }
    path.write_text(json.dumps(config, indent=2) + "\n")


def _tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text.splitlines()[-lines:])


def _start(argv: list[str], log: Path, stack: ExitStack) -> subprocess.Popen[bytes]:
    """argv running with stdout+stderr in log; stopped (SIGTERM, then SIGKILL) on stack exit."""
    out: IO[bytes] = stack.enter_context(log.open("wb"))
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    stack.callback(stop)
    return process


def _wait_until(
    name: str,
    process: subprocess.Popen[bytes],
    log: Path,
    url: str,
    expected: str,
    deadline: float,
    context: ssl.SSLContext | None = None,
) -> None:
    """Poll url until its body contains expected; fail early if the process exits."""
    last = "no answer yet"
    while True:
        if process.poll() is not None:
            raise ApiServerError(
                f"{name} exited with code {process.returncode} before {url} was ready; "
                f"last {LOG_TAIL_LINES} lines of {log}:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as answer:
                body = answer.read().decode(errors="replace")
            if expected in body:
                return
            last = f"HTTP {answer.status}: {body[:500]}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read().decode(errors='replace')[:500]}"
        except (OSError, ssl.SSLError) as error:
            last = repr(error)
        if time.monotonic() > deadline:
            raise ApiServerError(
                f"{name} not ready at {url} in time (last: {last}); "
                f"last {LOG_TAIL_LINES} lines of {log}:\n{_tail(log)}"
            )
        time.sleep(0.25)


@contextmanager
def running_apiserver(bin_dir: Path, workdir: Path, *, timeout: float = 120.0) -> Iterator[Path]:
    """etcd and kube-apiserver on 127.0.0.1 (free ports), state and logs in workdir; yields an
    admin kubeconfig once /readyz is ok (within timeout seconds, else ApiServerError with the
    log's tail). Both processes are terminated and waited for on exit."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pki = workdir / "pki"
    _make_certificates(pki)
    deadline = time.monotonic() + timeout

    with ExitStack() as stack:
        client_port, peer_port = free_port(), free_port()
        etcd_url, peer_url = f"http://{HOST}:{client_port}", f"http://{HOST}:{peer_port}"
        etcd_log = workdir / "etcd.log"
        # Test data only: --unsafe-no-fsync keeps etcd fast on slow disks.
        etcd = _start(
            [
                str(bin_dir / "etcd"),
                "--name=mks-test",
                f"--data-dir={workdir / 'etcd-data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=mks-test={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            etcd_log,
            stack,
        )
        _wait_until("etcd", etcd, etcd_log, f"{etcd_url}/health", '"health":"true"', deadline)

        port = free_port()
        apiserver_log = workdir / "kube-apiserver.log"
        apiserver = _start(
            [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                f"--secure-port={port}",
                f"--cert-dir={workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'server.crt'}",
                f"--tls-private-key-file={pki / 'server.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # No nodes: nothing serves the `kubernetes` Service, so do not publish endpoints.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
            ],
            apiserver_log,
            stack,
        )
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
        _wait_until(
            "kube-apiserver",
            apiserver,
            apiserver_log,
            f"https://{HOST}:{port}/readyz",
            "ok",
            deadline,
            context,
        )

        kubeconfig = workdir / "kubeconfig"
        _write_kubeconfig(kubeconfig, pki, port)
        yield kubeconfig


def _kubectl(kubectl: Path, kubeconfig: Path, *args: str) -> str:
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}", *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise ApiServerError(
            f"{' '.join(argv)} failed (exit {done.returncode}):\n{done.stderr.strip()}"
        )
    return done.stdout


def install_crds(
    kubectl: Path, kubeconfig: Path, crd_files: list[Path], *, timeout: int = 60
) -> None:
    """Apply the CRDs (server-side: some are bigger than the client-side apply annotation
    allows) and wait until every one is Established."""
    files = [arg for path in crd_files for arg in ("-f", str(path))]
    _kubectl(kubectl, kubeconfig, "apply", "--server-side", *files)
    _kubectl(
        kubectl, kubeconfig, "wait", "--for=condition=established", f"--timeout={timeout}s", *files
    )
