"""Tier 4 of the kubernetes target: pods that really run. A control plane (kwokctl's binaries,
no kwok) with a real node joined to it (tests/k8s/node.py: containerd, kubelet, kube-proxy, CNI
bridge, CoreDNS). The project's Postgres image runs in a pod and turns Ready by its probe;
`kubectl logs` and `kubectl exec` reach it through the API server; other pods reach it by a
Service's name (CoreDNS) and cluster IP (kube-proxy); the stack's own Keycloak StatefulSet, as
the stack renders it, starts against it and signs its bootstrap admin in; nothing a pod sends
leaves the machine. Then the node and the cluster are torn down, and the host is as it was.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from stackrules.versions import pin
from tests.k8s.cluster import pki_dir, running_cluster
from tests.k8s.kubectl import Kubectl
from tests.k8s.node import POD_CIDR, RULE_COMMENT, HostSnapshot, real_node
from tests.k8s.rendered import ACCESS_KEY_ID, SECRET_ACCESS_KEY, render
from tests.support.project import CliProject
from tests.support.workdir import REPO

NAMESPACE = "node-check"
KEYCLOAK_NAMESPACE = "node-keycloak"
CNPG_NAMESPACE = "node-cnpg"
NODE_IMAGES = ("LOCAL_POSTGRES_IMAGE", "LOCAL_KEYCLOAK_IMAGE", "LOCAL_CNPG_IMAGE")
CNPG = REPO.parent / "shared" / "cnpg"
# The project's Postgres image runs postgres as Debian's postgres user (CloudNativePG's own
# images use 26).
POSTGRES_UID, POSTGRES_GID = 100, 102
# Made for this run: Postgres' and Keycloak's database role.
PASSWORD = secrets.token_urlsafe(18)


class NodeCluster:
    """The cluster with its real node, closed by the last test (which then looks at the host)."""

    def __init__(self, kubectl: Kubectl, stack: contextlib.ExitStack, before: HostSnapshot) -> None:
        self.kubectl = kubectl
        self.stack = stack
        self.before = before

    def finished(self, pod: str, timeout: float) -> str:
        """The phase a pod that runs to completion ends in: Succeeded or Failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            phase = self.kube("get", "pod", pod, "-o", "jsonpath={.status.phase}")
            if phase in ("Succeeded", "Failed"):
                return phase
            time.sleep(0.5)
        raise AssertionError(f"pod {pod} still {phase} after {timeout:.0f} s")

    def wait(self, namespace: str, what: str, timeout: int) -> subprocess.CompletedProcess[str]:
        """`kubectl wait --for=condition=Ready` once, for up to timeout seconds."""
        return subprocess.run(
            [
                str(self.kubectl.kubectl),
                f"--kubeconfig={self.kubectl.kubeconfig}",
                "-n",
                namespace,
                "wait",
                "--for=condition=Ready",
                what,
                f"--timeout={timeout}s",
            ],
            capture_output=True,
            text=True,
            timeout=timeout + 30,
        )

    def kube(self, *args: str) -> str:
        done = self.kubectl.run("-n", NAMESPACE, *args)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def node_cluster(
    tmp_path_factory: pytest.TempPathFactory, kube_bin: Path, pause_tarball: Path
) -> Iterator[NodeCluster]:
    before = HostSnapshot.take()
    workdir = tmp_path_factory.mktemp("node-cluster")
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        kubeconfig = stack.enter_context(
            running_cluster(kube_bin, workdir / "control-plane", fake_node=False)
        )
        stack.enter_context(
            real_node(
                kube_bin,
                workdir / "node",
                kubeconfig,
                pki_dir(kubeconfig),
                pause_tarball,
                [pin(image) for image in NODE_IMAGES],
            )
        )
        print(f"control plane + real node Ready in {time.monotonic() - started:.1f} s")
        kubectl = Kubectl(kube_bin / "kubectl", kubeconfig)
        done = kubectl.run("create", "namespace", NAMESPACE)
        assert done.returncode == 0, done.stderr
        yield NodeCluster(kubectl, stack, before)


def _postgres_pod(name: str, command: list[str] | None, ready_probe: bool) -> dict[str, object]:
    container: dict[str, object] = {
        "name": "postgres",
        "image": pin("LOCAL_POSTGRES_IMAGE"),
        "imagePullPolicy": "Never",
        "env": [
            {
                "name": "POSTGRES_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
            },
            {
                "name": "PGPASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
            },
        ],
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    }
    if command:
        container["command"] = command
    if ready_probe:
        container["readinessProbe"] = {
            "exec": {"command": ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"]},
            "periodSeconds": 1,
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "restartPolicy": "Never" if command else "Always",
            "containers": [container],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }


def test_a_postgres_pod_runs_and_turns_ready_by_its_probe(node_cluster: NodeCluster) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": NAMESPACE},
        "data": {"password": base64.b64encode(PASSWORD.encode()).decode()},
    }
    node_cluster.kubectl.apply(secret)
    node_cluster.kubectl.apply(_postgres_pod("db", None, ready_probe=True))
    node_cluster.kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": NAMESPACE},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]},
        }
    )
    started = time.monotonic()
    node_cluster.kube("wait", "--for=condition=Ready", "pod/db", "--timeout=120s")
    print(f"pod db Ready in {time.monotonic() - started:.1f} s")
    pod = json.loads(node_cluster.kube("get", "pod", "db", "-o", "json"))
    print(f"pod db: node {pod['spec']['nodeName']}, IP {pod['status']['podIP']}")
    assert pod["spec"]["nodeName"] == "mks-node"
    assert pod["status"]["podIP"].startswith(POD_CIDR.rsplit(".", 2)[0])
    container = pod["status"]["containerStatuses"][0]
    assert container["ready"] and "running" in container["state"], container


def test_logs_and_exec_reach_the_container_through_the_api_server(
    node_cluster: NodeCluster,
) -> None:
    logs = node_cluster.kube("logs", "db")
    assert "database system is ready to accept connections" in logs, logs[-2000:]
    out = node_cluster.kube(
        "exec", "db", "--", "psql", "-U", "postgres", "-h", "127.0.0.1", "-tAc", "select 40 + 2"
    )
    assert out.strip() == "42", out


def test_a_pod_finds_the_service_by_name_and_nothing_outside_the_cluster(
    node_cluster: NodeCluster,
) -> None:
    """The node's cluster DNS (CoreDNS): `db` from the pod's namespace, the full name from
    anywhere; a name outside the cluster does not resolve (no forwarder)."""
    query = (
        "psql -h db -U postgres -tAc 'select 1' && "
        f"psql -h db.{NAMESPACE}.svc.cluster.local -U postgres -tAc 'select 2' && "
        "(getent hosts example.com || echo unresolved)"
    )
    node_cluster.kubectl.apply(_postgres_pod("by-name", ["sh", "-c", query], ready_probe=False))
    phase = node_cluster.finished("by-name", timeout=120)
    out = node_cluster.kube("logs", "by-name").split()
    print(f"by name: {phase}, {out}")
    assert phase == "Succeeded" and out == ["1", "2", "unresolved"], out


def test_a_second_pod_reaches_postgres_through_the_service_ip(node_cluster: NodeCluster) -> None:
    service = json.loads(node_cluster.kube("get", "service", "db", "-o", "json"))
    cluster_ip = service["spec"]["clusterIP"]
    query = f"psql -h {cluster_ip} -U postgres -tAc 'select current_database()'"
    node_cluster.kubectl.apply(_postgres_pod("client", ["sh", "-c", query], ready_probe=False))
    phase = node_cluster.finished("client", timeout=120)
    out = node_cluster.kube("logs", "client")
    print(f"through service {cluster_ip}: {phase}, {out.strip()}")
    assert phase == "Succeeded" and out.strip() == "postgres", out


def test_the_stacks_keycloak_statefulset_runs_and_its_bootstrap_admin_signs_in(
    node_cluster: NodeCluster, k8s_project: CliProject
) -> None:
    """keycloakWorkload's default on a real node: the manifests the stack renders (its
    StatefulSet, Services and Secrets, with the generated bootstrap admin) applied as they are;
    Keycloak starts against the Postgres pod, turns Ready by its management-port probes, and
    its bootstrap admin gets a token from the master realm."""
    node_cluster.kube(
        "exec",
        "db",
        "--",
        "psql",
        "-U",
        "postgres",
        "-h",
        "127.0.0.1",
        "-c",
        f"create role keycloak login password '{PASSWORD}'",
        "-c",
        "create database keycloak owner keycloak",
    )
    service = json.loads(node_cluster.kube("get", "service", "db", "-o", "json"))
    address = f"{service['spec']['clusterIP']}:5432"
    rendered = render(
        k8s_project,
        "k8s-real-node",
        {
            "namespace": KEYCLOAK_NAMESPACE,
            "profile": "dev",
            "keycloakInstances": 1,
            "keycloakImage": pin("LOCAL_KEYCLOAK_IMAGE"),
            "configureRealm": False,
            "ingressCertificate": "mlflow-tls",
            "artifacts": {"bucket": "node-artifacts"},
        },
        {
            "kubernetes.artifacts.accessKeyId": ACCESS_KEY_ID,
            "kubernetes.artifacts.secretAccessKey": SECRET_ACCESS_KEY,
            **{
                f"kubernetes.externalDatabases.{key}": (
                    f"postgresql://keycloak:{PASSWORD}@{address}/keycloak"
                )
                for key in ("tracking", "permissions", "identities")
            },
        },
    )
    # Keycloak's part of the stack (MLflow's image is not on this node).
    keycloak = [
        m
        for m in rendered.manifests
        if m["kind"] in ("Namespace", "Secret", "StatefulSet")
        or (m["kind"] == "Service" and m["metadata"]["name"].startswith("keycloak"))
    ]
    assert {m["kind"] for m in keycloak} == {"Namespace", "Secret", "StatefulSet", "Service"}
    for manifest in sorted(keycloak, key=lambda m: m["kind"] != "Namespace"):
        node_cluster.kubectl.apply(manifest)
    started = time.monotonic()
    # A first start builds the image's options and creates the schema: minutes on 2 cores.
    done = node_cluster.wait(KEYCLOAK_NAMESPACE, "pod/keycloak-0", timeout=400)
    logs = node_cluster.kubectl.run("-n", KEYCLOAK_NAMESPACE, "logs", "keycloak-0").stdout
    assert done.returncode == 0, f"{done.stderr}\n{logs[-3000:]}"
    print(f"keycloak-0 Ready in {time.monotonic() - started:.1f} s")
    assert f"Keycloak {pin('KEYCLOAK_VERSION')}" in logs and "started in" in logs, logs[-2000:]
    pod = json.loads(
        node_cluster.kubectl.run(
            "-n", KEYCLOAK_NAMESPACE, "get", "pod", "keycloak-0", "-o", "json"
        ).stdout
    )
    token = httpx.post(
        f"http://{pod['status']['podIP']}:8080/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": rendered.outputs["keycloakAdminUsername"],
            "password": rendered.outputs["keycloakAdminPassword"],
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"].lower() == "bearer"
    # The stack's namespace admits restricted pods only: Keycloak's was one; a pod without the
    # restricted fields (here: may run as root, escalate, keep capabilities) is refused.
    loose = _postgres_pod("loose", ["true"], ready_probe=False)
    loose["metadata"] = {"name": "loose", "namespace": KEYCLOAK_NAMESPACE}
    refused = node_cluster.kubectl.run("apply", "-f", "-", stdin=json.dumps(loose))
    print(f"a pod without the restricted fields: {refused.stderr.strip()[:300]}")
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr
    node_cluster.kubectl.run("delete", "namespace", KEYCLOAK_NAMESPACE, "--wait=false")


def _cnpg_release() -> str:
    """CloudNativePG's release manifest, its operator image the local build (nothing pulled)."""
    docs = [
        d for d in yaml.safe_load_all((CNPG / f"cnpg-{pin('CNPG_VERSION')}.yaml").read_text()) if d
    ]
    for doc in docs:
        if doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            container["image"] = pin("LOCAL_CNPG_IMAGE")
            container["imagePullPolicy"] = "Never"
            for env in container["env"]:
                if env["name"] == "OPERATOR_IMAGE_NAME":
                    env["value"] = pin("LOCAL_CNPG_IMAGE")
    return yaml.safe_dump_all(docs)


def test_cloudnativepg_reconciles_a_postgres_cluster_on_the_node(
    node_cluster: NodeCluster, tmp_path: Path
) -> None:
    """The operator the stack relies on, for real: its release manifest applied, its pod talks
    to the API server (leader election, its webhooks' certificates), and a `Cluster` of the
    project's Postgres image becomes a running primary that answers SQL."""
    applied = node_cluster.kubectl.run("apply", "--server-side", "-f", "-", stdin=_cnpg_release())
    assert applied.returncode == 0, applied.stderr
    started = time.monotonic()
    rollout = node_cluster.kubectl.run(
        "-n",
        "cnpg-system",
        "rollout",
        "status",
        "deployment/cnpg-controller-manager",
        "--timeout=180s",
    )
    operator_log = node_cluster.kubectl.run(
        "-n", "cnpg-system", "logs", "deployment/cnpg-controller-manager", "--tail=30"
    )
    assert rollout.returncode == 0, rollout.stderr + operator_log.stdout
    print(f"CloudNativePG operator available in {time.monotonic() - started:.1f} s")
    # No volume provisioner on this node: a volume of a directory, made for the one instance.
    volume = tmp_path / "pgdata"
    volume.mkdir()
    os.chown(volume, POSTGRES_UID, POSTGRES_GID)
    volume.chmod(0o700)
    node_cluster.kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "cnpg-check-1"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "node-local",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": str(volume), "type": "Directory"},
            },
        }
    )
    started = time.monotonic()
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "cnpg-check", "namespace": CNPG_NAMESPACE},
        "spec": {
            "instances": 1,
            "imageName": pin("LOCAL_POSTGRES_IMAGE"),
            "imagePullPolicy": "Never",
            "postgresUID": POSTGRES_UID,
            "postgresGID": POSTGRES_GID,
            "storage": {"size": "1Gi", "storageClass": "node-local"},
        },
    }
    # As in the stack's namespace: only pods that meet the restricted standard are admitted.
    node_cluster.kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": CNPG_NAMESPACE,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        }
    )
    applied = node_cluster.kubectl.run("apply", "-f", "-", stdin=json.dumps(cluster))
    assert applied.returncode == 0, applied.stderr
    ready = node_cluster.wait(CNPG_NAMESPACE, "cluster/cnpg-check", timeout=300)
    pods = node_cluster.kubectl.run("-n", CNPG_NAMESPACE, "get", "pods", "-o", "wide").stdout
    assert ready.returncode == 0, f"{ready.stderr}\n{pods}"
    print(f"CloudNativePG cluster Ready in {time.monotonic() - started:.1f} s\n{pods}")
    out = node_cluster.kubectl.run(
        "-n",
        CNPG_NAMESPACE,
        "exec",
        "cnpg-check-1",
        "-c",
        "postgres",
        "--",
        "psql",
        "-U",
        "postgres",
        "-tAc",
        "select pg_is_in_recovery()",
    )
    assert out.returncode == 0 and out.stdout.strip() == "f", out  # the primary


def test_pod_traffic_to_any_other_address_is_dropped(node_cluster: NodeCluster) -> None:
    """Nothing a pod sends leaves this machine: a connection to an address that is not a pod's
    is dropped at the host's FORWARD chain (our rule counts it)."""
    dropped_before = _dropped_packets()
    # TEST-NET-2: no such host anywhere, so even a machine with internet cannot be reached.
    probe = "timeout 3 bash -c 'echo > /dev/tcp/198.51.100.7/80' && echo reached || echo refused"
    node_cluster.kubectl.apply(_postgres_pod("outbound", ["sh", "-c", probe], ready_probe=False))
    assert node_cluster.finished("outbound", timeout=60) == "Succeeded"
    out = node_cluster.kube("logs", "outbound").strip()
    dropped = _dropped_packets() - dropped_before
    print(f"pod to 198.51.100.7:80: {out}; packets dropped by the node's FORWARD rule: {dropped}")
    assert out == "refused" and dropped > 0


def _dropped_packets() -> int:
    listed = subprocess.run(
        ["iptables", "-L", "FORWARD", "-v", "-x", "-n"], capture_output=True, text=True, check=True
    ).stdout
    return sum(
        int(line.split()[0])
        for line in listed.splitlines()
        if RULE_COMMENT in line and "DROP" in line
    )


def test_teardown_leaves_the_host_as_it_was(node_cluster: NodeCluster) -> None:
    """Runs last in this module: closes the node and the cluster, then compares the host."""
    started = time.monotonic()
    node_cluster.stack.close()
    print(f"node and control plane torn down in {time.monotonic() - started:.1f} s")
    after = HostSnapshot.take()
    for field in HostSnapshot.__dataclass_fields__:
        assert getattr(after, field) == getattr(node_cluster.before, field), field
