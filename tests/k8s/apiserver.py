"""A real Kubernetes API server on 127.0.0.1 (etcd + kube-apiserver, no nodes), for server-side
validation of rendered manifests (`kubectl apply --dry-run=server --validate=strict`), and a small
cluster around it whose one node is fake (kwok), for a real `pulumi up`.

The binaries come from toolchain/kube.sh, whose last stdout line is their directory:

    bin_dir = Path(subprocess.run(["bash", "toolchain/kube.sh"], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.splitlines()[-1])
    with running_apiserver(bin_dir, tmp_path) as kubeconfig:
        install_crds(bin_dir / "kubectl", kubeconfig, [...])

Certificates are made with the `openssl` CLI: a throwaway CA signs the serving certificate and
an admin client certificate (group system:masters, authorization RBAC); an EC key signs the
service-account tokens. With running_apiserver no controller-manager runs, so a new namespace has
no `default` ServiceAccount and Pods (not Deployments) fail admission unless the test creates one.

running_cluster adds kube-controller-manager, kube-scheduler and kwok, and registers one Node
(KWOK_NODE, untainted) that kwok plays the kubelet of: Deployments get Pods that are scheduled
there and turn Running and Ready (with a pod IP, but no container ever runs), Services get
EndpointSlices, and namespaces are deleted to the end. kwok does not come with stages (the rules
it changes pods and nodes by): toolchain/kube.sh copies the default ones kwokctl uses from kwok's
module to KWOK_STAGES in the bin directory.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LOG_TAIL_LINES = 50

# The fake node of running_cluster. kwok manages the nodes with this annotation only (other nodes
# of the cluster, if a test adds some, stay alone); no taint, so pods need no toleration.
KWOK_NODE = "kwok-node-0"
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
KWOK_NODE_ALLOCATABLE = {"cpu": "32", "memory": "256Gi", "pods": "110"}
# kwok's stages (Stage objects, a kwok --config file), written by toolchain/kube.sh.
KWOK_STAGES = "kwok-stages.yaml"
# Pod IPs kwok hands out (nothing routes them); apart from SERVICE_CLUSTER_IP_RANGE.
POD_CIDR = "10.244.0.0/16"
# kwok renews the node's Lease (kube-node-lease) every quarter of this; kube-controller-manager
# marks the node NotReady when it is not renewed within --node-monitor-grace-period (50 s).
NODE_LEASE_SECONDS = 40

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
    """A process of the cluster did not start or stopped, or kubectl failed; the message says
    why (with the last lines of the logs)."""


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


def _start(
    argv: list[str], log: Path, stack: ExitStack, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """argv running with stdout+stderr in log; stopped (SIGTERM, then SIGKILL) on stack exit.
    env, if given, is added to this process's environment."""
    out: IO[bytes] = stack.enter_context(log.open("wb"))
    process = subprocess.Popen(
        argv,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env} if env else None,
    )

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


@dataclass(frozen=True)
class _Process:
    """A started process of the cluster and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def check_running(self, waiting_for: str) -> None:
        if self.process.poll() is not None:
            raise ApiServerError(
                f"{self.name} exited with code {self.process.returncode} while waiting for "
                f"{waiting_for}; last {LOG_TAIL_LINES} lines of {self.log}:\n{_tail(self.log)}"
            )


def _launch(
    name: str, argv: list[str], log: Path, stack: ExitStack, env: dict[str, str] | None = None
) -> _Process:
    """_start, named."""
    return _Process(name, _start(argv, log, stack, env), log)


def _poll(
    what: str,
    state: Callable[[], str | None],
    running: list[_Process],
    deadline: float,
    logs: list[_Process] | None = None,
) -> None:
    """Call state() until it returns None (what is done; a string says how far it got), failing
    early when a process of running exits, or at the deadline with the tails of logs (default:
    running). HTTP and connection errors of state() count as not done yet."""
    last = "no answer yet"
    while True:
        for process in running:
            process.check_running(what)
        try:
            found = state()
            if found is None:
                return
            last = found
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read().decode(errors='replace')[:500]}"
        except (OSError, ssl.SSLError) as error:
            last = repr(error)
        if time.monotonic() > deadline:
            tails = "".join(
                f"\nlast {LOG_TAIL_LINES} lines of {p.log}:\n{_tail(p.log)}"
                for p in (running if logs is None else logs)
            )
            raise ApiServerError(f"timed out waiting for {what} (last: {last});{tails}")
        time.sleep(0.25)


def _wait_until(
    process: _Process,
    url: str,
    expected: str,
    deadline: float,
    context: ssl.SSLContext | None = None,
) -> None:
    """Poll url until its body contains expected; fail early if the process exits."""

    def state() -> str | None:
        with urllib.request.urlopen(url, timeout=5, context=context) as answer:
            body = answer.read().decode(errors="replace")
        return None if expected in body else f"HTTP {answer.status}: {body[:500]}"

    _poll(f"{process.name} at {url}", state, [process], deadline)


@dataclass(frozen=True)
class _ApiServer:
    """A started kube-apiserver (and its etcd): an admin kubeconfig, the certificates, and what
    the rest of the cluster needs to talk to it."""

    kubeconfig: Path
    pki: Path
    url: str
    context: ssl.SSLContext
    processes: list[_Process]

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer of method path (as the admin); urllib.error.HTTPError if not 2xx."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10, context=self.context) as answer:
            return json.loads(answer.read())


def _start_apiserver(bin_dir: Path, workdir: Path, stack: ExitStack, deadline: float) -> _ApiServer:
    """etcd and kube-apiserver (see running_apiserver), stopped by stack; ready at return."""
    pki = workdir / "pki"
    _make_certificates(pki)

    client_port, peer_port = free_port(), free_port()
    etcd_url, peer_url = f"http://{HOST}:{client_port}", f"http://{HOST}:{peer_port}"
    # Test data only: --unsafe-no-fsync keeps etcd fast on slow disks.
    etcd = _launch(
        "etcd",
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
        workdir / "etcd.log",
        stack,
    )
    _wait_until(etcd, f"{etcd_url}/health", '"health":"true"', deadline)

    port = free_port()
    apiserver = _launch(
        "kube-apiserver",
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
            # No real nodes: nothing in the cluster could reach 127.0.0.1, so publish no
            # endpoints for the `kubernetes` Service.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
        ],
        workdir / "kube-apiserver.log",
        stack,
    )
    url = f"https://{HOST}:{port}"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
    _wait_until(apiserver, f"{url}/readyz", "ok", deadline, context)

    kubeconfig = workdir / "kubeconfig"
    _write_kubeconfig(kubeconfig, pki, port)
    return _ApiServer(kubeconfig, pki, url, context, [etcd, apiserver])


@contextmanager
def running_apiserver(bin_dir: Path, workdir: Path, *, timeout: float = 120.0) -> Iterator[Path]:
    """etcd and kube-apiserver on 127.0.0.1 (free ports), state and logs in workdir; yields an
    admin kubeconfig once /readyz is ok (within timeout seconds, else ApiServerError with the
    log's tail). Both processes are terminated and waited for on exit."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with ExitStack() as stack:
        yield _start_apiserver(bin_dir, workdir, stack, deadline).kubeconfig


def _kwok_node() -> dict[str, Any]:
    """KWOK_NODE as a kubelet would register it (kwok fills in its conditions and node info)."""
    key, value = KWOK_NODE_ANNOTATION
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": KWOK_NODE,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": KWOK_NODE,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"allocatable": KWOK_NODE_ALLOCATABLE, "capacity": KWOK_NODE_ALLOCATABLE},
    }


@contextmanager
def running_cluster(bin_dir: Path, workdir: Path, *, timeout: float = 180.0) -> Iterator[Path]:
    """running_apiserver's etcd and kube-apiserver, then kube-controller-manager (all its
    default controllers), kube-scheduler and kwok, all on 127.0.0.1 with state and logs in
    workdir; registers KWOK_NODE and yields the admin kubeconfig once that node is Ready and
    untainted and the `default` ServiceAccount of `default` exists (within timeout seconds,
    else ApiServerError with the logs' tails; likewise if a process exits meanwhile). All
    processes are terminated and waited for on exit."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stages = bin_dir / KWOK_STAGES
    if not stages.is_file():
        raise ApiServerError(f"no {stages}: toolchain/kube.sh writes it next to kwok; rerun it")
    deadline = time.monotonic() + timeout

    with ExitStack() as stack:
        api = _start_apiserver(bin_dir, workdir, stack, deadline)
        kubeconfig, pki = str(api.kubeconfig), api.pki
        # Their own serving certificates are self-signed in memory: check health unverified.
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        # The admin kubeconfig (group system:masters) for both: enough for a test. No
        # --authentication/authorization-kubeconfig: only /healthz of their own HTTPS servers
        # is used (always allowed), and the lookups fill the logs with errors about the
        # request-header CA kube-apiserver does not have.
        shared = [f"--kubeconfig={kubeconfig}", "--leader-elect=false", f"--bind-address={HOST}"]

        controller_port = free_port()
        controller = _launch(
            "kube-controller-manager",
            [
                str(bin_dir / "kube-controller-manager"),
                *shared,
                f"--secure-port={controller_port}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=false",
            ],
            workdir / "kube-controller-manager.log",
            stack,
        )
        scheduler_port = free_port()
        scheduler = _launch(
            "kube-scheduler",
            [str(bin_dir / "kube-scheduler"), *shared, f"--secure-port={scheduler_port}"],
            workdir / "kube-scheduler.log",
            stack,
        )
        key, value = KWOK_NODE_ANNOTATION
        # No --node-port/--server-address: kwok's own server (logs, exec, metrics) stays off.
        # HOME: kwok would also read ~/.kwok/kwok.yaml.
        kwok = _launch(
            "kwok",
            [
                str(bin_dir / "kwok"),
                f"--kubeconfig={kubeconfig}",
                f"--config={stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={key}={value}",
                f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
                f"--cidr={POD_CIDR}",
            ],
            workdir / "kwok.log",
            stack,
            env={"HOME": str(workdir / "kwok-home")},
        )
        everything = [*api.processes, controller, scheduler, kwok]
        for process, port in [(controller, controller_port), (scheduler, scheduler_port)]:
            url = f"https://{HOST}:{port}/healthz"
            _wait_until(process, url, "ok", deadline, unverified)

        try:
            api.request("POST", "/api/v1/nodes", _kwok_node())
        except urllib.error.HTTPError as error:
            # 409 Conflict: a workdir used before, whose etcd has the node (kwok takes it on).
            if error.code != 409:
                answer = error.read().decode(errors="replace")[:500]
                raise ApiServerError(
                    f"creating node {KWOK_NODE}: HTTP {error.code}: {answer}"
                ) from None

        def node_state() -> str | None:
            node = api.request("GET", f"/api/v1/nodes/{KWOK_NODE}")
            conditions = node.get("status", {}).get("conditions", [])
            ready = [c.get("status") for c in conditions if c.get("type") == "Ready"]
            taints = [t.get("key") for t in node.get("spec", {}).get("taints", [])]
            if ready == ["True"] and not taints:
                return None
            return f"Ready={ready or 'no condition'}, taints={taints}"

        # Ready: kwok; the taints (not-ready at registration): kube-controller-manager.
        _poll(f"node {KWOK_NODE} Ready", node_state, everything, deadline, [kwok, controller])

        def service_account_state() -> str | None:
            api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
            return None

        _poll(
            "ServiceAccount default/default",
            service_account_state,
            everything,
            deadline,
            [controller],
        )
        yield api.kubeconfig


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
