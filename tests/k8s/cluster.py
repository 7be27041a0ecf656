"""A Kubernetes cluster on 127.0.0.1 made by kwokctl, kwok's own tool, from the binaries
toolchain/kube.sh builds at the pinned versions (`--runtime binary`, nothing downloaded): etcd,
kube-apiserver (its certificates made by kwokctl), kube-controller-manager, kube-scheduler and
kwok, which plays the kubelet of one fake node. Deployments get Pods that are scheduled there and
turn Running and Ready (with a pod IP, but no container ever runs), Services get EndpointSlices,
namespaces are deleted to the end; custom resources are stored and validated but no operator
reconciles them.

    with running_cluster(bin_dir, tmp_path) as kubeconfig:
        install_crds(bin_dir / "kubectl", kubeconfig, [...])
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The one node kwokctl registers (`kwokctl scale node`): the first of its generated names.
NODE = "node-000000"
COMPONENTS = {
    "etcd": "etcd",
    "kube-apiserver": "kube-apiserver",
    "kube-controller-manager": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "kwok-controller": "kwok",
}


# kwokctl binds every component to 0.0.0.0 unless its configuration says otherwise (no flag
# does); etcd has no authentication, so loopback only.
KWOKCTL_CONFIGURATION = """\
kind: KwokctlConfiguration
apiVersion: config.kwok.x-k8s.io/v1alpha1
options:
  bindAddress: 127.0.0.1
"""


# The real node's IP (tests/k8s/node.py), and the `kubernetes` Service's cluster IP (the first of
# the API server's default range): pods reach the API server at the latter, kube-proxy sends
# them to the advertised node IP, where the node relays to the API server on 127.0.0.1; both are
# in its certificate.
REAL_NODE_IP = "10.88.0.1"
KUBERNETES_SERVICE_IP = "10.0.0.1"
# With a real node: the API server reaches kubelet (logs, exec, port-forward) with kwokctl's
# admin certificate, which kubelet's client CA signed, at the node's IP (its name resolves
# nowhere); kwok, which would play every node, is off.
REAL_NODE_PATCHES = """\
  kubeApiserverCertSANs: ["{service_ip}", "{node_ip}"]
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - {{key: kubelet-client-certificate, value: "{pki}/admin.crt"}}
  - {{key: kubelet-client-key, value: "{pki}/admin.key"}}
  - {{key: kubelet-preferred-address-types, value: InternalIP}}
  - {{key: advertise-address, value: "{node_ip}"}}
"""


def pki_dir(kubeconfig: Path) -> Path:
    """The cluster's certificates (ca.crt, admin.crt, admin.key) of running_cluster's kubeconfig."""
    found = sorted(kubeconfig.parent.glob("clusters/*/pki"))
    if len(found) != 1:
        raise ClusterError(f"not one kwokctl cluster under {kubeconfig.parent}: {found}")
    return found[0]


class ClusterError(RuntimeError):
    """The cluster did not come up; the message holds the command and its output."""


def run_checked(argv: list[str], env: dict[str, str], timeout: float) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise ClusterError(f"{' '.join(argv)}: no answer in {timeout:.0f} s") from expired
    if done.returncode != 0:
        raise ClusterError(
            f"{' '.join(argv)} failed (exit {done.returncode}):\n"
            f"{(done.stderr or done.stdout).strip()[-3000:]}"
        )
    return done.stdout


@contextmanager
def running_cluster(
    bin_dir: Path, workdir: Path, *, fake_node: bool = True, timeout: float = 180.0
) -> Iterator[Path]:
    """The cluster, its state and logs under workdir; yields an admin kubeconfig once its node
    is Ready (with fake_node) and the `default` ServiceAccount of `default` exists. Deleted on
    exit (its processes stopped), whatever the test did.

    Without fake_node there is no kwok and no node: a real one joins it (tests/k8s/node.py,
    its client CA and the API server's client certificate for kubelet in `pki_dir(workdir)`)."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"mks-{os.getpid()}"
    # KWOK_WORKDIR: kwokctl's state (clusters/<name>/: pki, logs, etcd data) in workdir, not ~.
    env = {**os.environ, "KWOK_WORKDIR": str(workdir), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    configuration = workdir / "kwokctl.yaml"
    pki = workdir / "clusters" / name / "pki"
    configuration.write_text(
        KWOKCTL_CONFIGURATION
        if fake_node
        else KWOKCTL_CONFIGURATION
        + REAL_NODE_PATCHES.format(pki=pki, node_ip=REAL_NODE_IP, service_ip=KUBERNETES_SERVICE_IP)
    )
    kwokctl = [str(bin_dir / "kwokctl"), "--name", name, f"--config={configuration}"]
    components = (
        COMPONENTS
        if fake_node
        else {flag: binary for flag, binary in COMPONENTS.items() if flag != "kwok-controller"}
    )
    binaries = [f"--{flag}-binary={bin_dir / binary}" for flag, binary in components.items()]
    if not fake_node:
        binaries.append("--disable=kwok-controller")
    kubectl = [str(bin_dir / "kubectl"), f"--kubeconfig={workdir / 'kubeconfig'}"]
    try:
        run_checked(
            [
                *kwokctl,
                "create",
                "cluster",
                "--runtime=binary",
                *binaries,
                f"--wait={timeout:.0f}s",
            ],
            env,
            timeout + 30,
        )
        (workdir / "kubeconfig").write_text(run_checked([*kwokctl, "get", "kubeconfig"], env, 30))
        if fake_node:
            run_checked([*kwokctl, "scale", "node", "--replicas=1"], env, 60)
            run_checked(
                [*kubectl, "wait", "--for=condition=Ready", f"node/{NODE}", "--timeout=60s"],
                env,
                90,
            )
        # The controller-manager makes it; pods of a namespace cannot be admitted before.
        run_checked(
            [*kubectl, "wait", "--for=create", "serviceaccount/default", "--timeout=60s"], env, 90
        )
        yield workdir / "kubeconfig"
    finally:
        subprocess.run([*kwokctl, "delete", "cluster"], env=env, capture_output=True, timeout=120)


def install_crds(
    kubectl: Path, kubeconfig: Path, crd_files: list[Path], *, timeout: int = 60
) -> None:
    """Apply the CRDs (server-side: some are bigger than the client-side apply annotation
    allows) and wait until every one is Established."""
    files = [arg for path in crd_files for arg in ("-f", str(path))]
    env = dict(os.environ)
    base = [str(kubectl), f"--kubeconfig={kubeconfig}"]
    run_checked([*base, "apply", "--server-side", *files], env, timeout)
    run_checked(
        [*base, "wait", "--for=condition=established", f"--timeout={timeout}s", *files],
        env,
        timeout + 30,
    )
