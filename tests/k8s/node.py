"""A real Kubernetes node on this host, joined to the control plane of tests/k8s/cluster.py:
containerd (toolchain/kube.sh, its own root, state and socket beside Docker's), kubelet and
kube-proxy (iptables mode) at the cluster's version, Debian's runc and CNI bridge (toolchain/
node.sh). Pods run as processes in their own network namespaces on one bridge; images come from
the local Docker engine (`docker save | ctr import`), nothing is pulled.

This host's quirks (../shared/toolchain-facts.md): cgroup v1 without systemd (kubelet's
`failCgroupV1: false` and the cgroupfs driver), no CAP_SYS_RESOURCE (containerd's
`restrict_oom_score_adj`), swap not refused. Network rule: pods reach each other and this host,
nothing routed off the machine (a FORWARD rule drops pod traffic to any other address; no DNS
forwarder). Teardown leaves the host as it was: processes stopped, mounts and network namespaces
gone, kube-proxy's iptables chains and ours removed, cgroups removed, the sysctls kubelet and
kube-proxy write put back; `HostSnapshot` is what the tests compare.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from stackrules.versions import pin
from tests.k8s.cluster import REAL_NODE_IP, ClusterError, run_checked

NODE_NAME = "mks-node"
# The pods' addresses (one bridge, host-local IPAM); the Services' range is the API server's
# default, 10.0.0.0/24 (kwokctl sets none).
POD_CIDR = "10.88.0.0/24"
BRIDGE = "mks-cni0"
# kubelet refuses a loopback node IP: the node's address is the pods' gateway on the bridge,
# made before the first pod (the CNI bridge plugin takes it as it is). Local to this host
# (nothing else routes to it); the API server reaches kubelet there, pods reach the host there.
NODE_IP = REAL_NODE_IP
CNI_BIN = Path("/usr/lib/cni")
RUNC = Path("/usr/sbin/runc")
# Written by kubelet (its kernel defaults) or kube-proxy, and put back at teardown.
SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
# CNI's cache of what each ADD made (the DEL that would remove an entry never runs: see
# _teardown), and host-local's leases.
CNI_RESULTS = Path("/var/lib/cni/results")
CNI_LEASES = Path("/var/lib/cni/networks/mks-pods")
# Our own rules at the top of the host's FORWARD chain (bridged pod traffic passes it: the
# host has bridge-nf-call-iptables on, and Docker's FORWARD policy is DROP): pod to pod is
# accepted, pod to anywhere but another pod is dropped. Found again by their comment.
RULE_COMMENT = "mks-test-node"
FORWARD_RULES = (
    ["-s", POD_CIDR, "!", "-d", POD_CIDR, "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"],
    ["-s", POD_CIDR, "-d", POD_CIDR, "-m", "comment", "--comment", RULE_COMMENT, "-j", "ACCEPT"],
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class HostSnapshot:
    """What a node may change on this host; equal before and after a node means it left none
    behind."""

    sysctls: tuple[tuple[str, str], ...]
    iptables_chains: tuple[str, ...]
    iptables_rules: tuple[str, ...]
    cni_results: tuple[str, ...]
    mounts: tuple[str, ...]
    netns: tuple[str, ...]
    links: tuple[str, ...]
    cgroups: tuple[str, ...]

    @classmethod
    def take(cls) -> HostSnapshot:
        saved = _iptables_save()
        chains = sorted(
            f"{table}:{line.split()[0][1:]}"
            for table, line in _table_lines(saved)
            if line.startswith(":")
        )
        rules = sorted(
            f"{table}:{line}" for table, line in _table_lines(saved) if line.startswith("-A")
        )
        mounts = sorted(
            line.split()[4]
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if any(mark in line for mark in ("kubelet", "/mks-node-", "/netns/cni-"))
        )
        netns = (
            sorted(p.name for p in Path("/var/run/netns").glob("*"))
            if Path("/var/run/netns").is_dir()
            else []
        )
        links = sorted(p.name for p in Path("/sys/class/net").iterdir())
        cgroups = sorted(
            str(p.relative_to(CGROUP_ROOT))
            for controller in CGROUP_ROOT.iterdir()
            for p in controller.glob("*")
            if p.is_dir()
        )
        return cls(
            sysctls=tuple((key, Path("/proc/sys", key).read_text().strip()) for key in SYSCTLS),
            iptables_chains=tuple(chains),
            iptables_rules=tuple(rules),
            cni_results=tuple(sorted(p.name for p in CNI_RESULTS.glob("*"))),
            mounts=tuple(mounts),
            netns=tuple(netns),
            links=tuple(links),
            cgroups=tuple(cgroups),
        )


def _iptables_save() -> str:
    """Both families' rules, each table named `<family>/<table>` (e.g. `ip6tables/filter`)."""
    return "".join(
        _named_tables(
            family,
            subprocess.run([f"{family}-save"], capture_output=True, text=True, check=True).stdout,
        )
        for family in ("iptables", "ip6tables")
    )


def _named_tables(family: str, saved: str) -> str:
    return (
        "\n".join(
            f"*{family}/{line[1:]}" if line.startswith("*") else line for line in saved.splitlines()
        )
        + "\n"
    )


def _table_lines(saved: str) -> Iterator[tuple[str, str]]:
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
        else:
            yield table, line


def _remove_chains_since(before: HostSnapshot) -> None:
    """The chains kubelet and kube-proxy made since `before` (KUBE-FIREWALL, KUBE-KUBELET-CANARY,
    KUBE-SERVICES, ...; only KUBE-* and CNI-* ones, whoever else changes the host meanwhile)
    and every rule that jumps to them: the rules first, then the chains, emptied."""
    saved = _iptables_save()
    new = {
        (table, line.split()[0][1:])
        for table, line in _table_lines(saved)
        if line.startswith(":")
        and line[1:].startswith(("KUBE-", "CNI-"))
        and f"{table}:{line.split()[0][1:]}" not in before.iptables_chains
    }
    for table, line in _table_lines(saved):
        words = shlex.split(line)
        if words[:1] == ["-A"] and "-j" in words and (table, words[words.index("-j") + 1]) in new:
            family, name = table.split("/")
            subprocess.run([family, "-t", name, "-D", *words[1:]], capture_output=True, check=False)
    for table, chain in new:
        family, name = table.split("/")
        subprocess.run([family, "-t", name, "-F", chain], capture_output=True, check=False)
    for table, chain in new:
        family, name = table.split("/")
        subprocess.run([family, "-t", name, "-X", chain], capture_output=True, check=False)


@dataclass(frozen=True)
class NodeFiles:
    """Where one node keeps its state: data under workdir, sockets under a short /run path (a
    unix socket's path has at most 107 bytes)."""

    workdir: Path
    run: Path

    @property
    def socket(self) -> Path:
        return self.run / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.workdir / "cni"

    @property
    def cgroup(self) -> str:
        return f"/{self.run.name}"


CONTAINERD_CONFIG = """\
version = 4
root = "{root}"
state = "{state}"
# Nothing from /etc/containerd: this containerd is the node's alone.
imports = []
# Not needed by the node, and each would write outside root/state (/opt, /var/run/nri).
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri",
  "io.containerd.image-verifier.v1.bindir"]

[plugins."io.containerd.server.v1.grpc"]
  address = "{socket}"

[plugins."io.containerd.server.v1.ttrpc"]
  address = "{socket}.ttrpc"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{pause}"

[plugins."io.containerd.cri.v1.runtime"]
  # No CAP_SYS_RESOURCE here: a container may not get a lower oom_score_adj than containerd's.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{cni_bin}"]
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      BinaryName = "{runc}"
      # runc's own state under the node's, not in /run/containerd/runc.
      Root = "{state}/runc"
      SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri"]
  # The CRI's streaming server (exec, attach, port-forward) on loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""

# ipMasq off and isGateway on: pods reach each other and the host, and nothing is NATed off it.
CNI_CONFIG = {
    "cniVersion": "1.0.0",
    "name": "mks-pods",
    "plugins": [
        {
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": POD_CIDR}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        },
    ],
}

KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {node_ip}
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz_port}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: "{client_ca}"}}
authorization: {{mode: Webhook}}
containerRuntimeEndpoint: "unix://{socket}"
# cgroup v1 and no systemd on this host.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: "{cgroup_root}"
failSwapOn: false
enforceNodeAllocatable: []
podLogsDir: "{logs}"
resolvConf: "{resolv_conf}"
imageGCHighThresholdPercent: 100
evictionHard: {{}}
registerNode: true
clusterDNS: ["{node_ip}"]
clusterDomain: cluster.local
serializeImagePulls: false
"""

# Services by name for the pods, on the node's IP; no forwarder: nothing outside the cluster
# resolves (names of other zones get no answer).
COREFILE = """\
cluster.local:53 in-addr.arpa:53 {{
  bind {node_ip}
  errors
  ready 127.0.0.1:{ready_port}
  kubernetes cluster.local in-addr.arpa {{
    kubeconfig {kubeconfig}
  }}
}}
"""

KUBE_PROXY_CONFIG = """\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: {pod_cidr}
hostnameOverride: {node}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:{healthz_port}
metricsBindAddress: 127.0.0.1:{metrics_port}
clientConnection: {{kubeconfig: "{kubeconfig}"}}
# Leave the host's conntrack settings alone (a shared VM's): table size and TCP timeouts.
conntrack: {{maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
# NodePorts on the node's own IP only, never on the host's other addresses or its loopback.
nodePortAddresses: ["{node_ip}/32"]
iptables: {{localhostNodePorts: false}}
"""


class _Processes:
    """The node's daemons, each in its own process group, logging to workdir/logs."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.started.append((name, process))
        return process

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise ClusterError(f"{name} exited ({process.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def stop(self) -> None:
        self.stop_these(self.started)

    @staticmethod
    def stop_these(started: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        for _, process in reversed(started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in reversed(started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _remove_containers(ctr: list[str], env: dict[str, str]) -> None:
    listed = subprocess.run(
        [*ctr, "containers", "ls", "-q"], capture_output=True, text=True, env=env
    )
    for container in listed.stdout.split():
        subprocess.run(
            [*ctr, "tasks", "kill", "-s", "SIGKILL", container], capture_output=True, env=env
        )
        subprocess.run([*ctr, "tasks", "delete", "-f", container], capture_output=True, env=env)
        subprocess.run([*ctr, "containers", "delete", container], capture_output=True, env=env)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(what: str, ready: Callable[[], bool], processes: _Processes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        processes.check_alive()
        if ready():
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not ready in {timeout:.0f} s")
        time.sleep(0.5)


def import_images(ctr: list[str], tarballs: list[Path], images: list[str]) -> None:
    """Load images into the node's containerd (the CRI's namespace): tarballs as they are, local
    Docker images through `docker save`."""
    for tarball in tarballs:
        run_checked([*ctr, "images", "import", str(tarball)], dict(os.environ), 300)
    for image in images:
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        try:
            done = subprocess.run(
                [*ctr, "images", "import", "-"], stdin=save.stdout, capture_output=True, timeout=600
            )
        finally:
            if save.stdout:
                save.stdout.close()
            save.wait(timeout=60)
        if save.returncode != 0 or done.returncode != 0:
            raise ClusterError(f"docker save {image} | ctr images import: {done.stderr.decode()}")


@contextlib.contextmanager
def real_node(
    bin_dir: Path,
    workdir: Path,
    kubeconfig: Path,
    pki: Path,
    pause_tarball: Path,
    images: list[str],
    *,
    timeout: float = 180.0,
) -> Iterator[str]:
    """Runs the node until exit, then tears it down whatever happened; yields the node's name
    once it is Ready with the images loaded."""
    files = NodeFiles(workdir=workdir.resolve(), run=Path("/run") / f"mks-node-{os.getpid()}")
    snapshot = HostSnapshot.take()
    processes = _Processes(files.workdir / "logs")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    ctr = [str(bin_dir / "ctr"), "--address", str(files.socket), "--namespace", "k8s.io"]
    try:
        _prepare(files)
        pause_image = pin("LOCAL_PAUSE_IMAGE")
        (files.workdir / "containerd.toml").write_text(
            CONTAINERD_CONFIG.format(
                root=files.workdir / "containerd",
                state=files.run / "state",
                socket=files.socket,
                pause=pause_image,
                cni_bin=CNI_BIN,
                cni_conf=files.cni_conf,
                runc=RUNC,
            )
        )
        processes.start(
            "containerd",
            [str(bin_dir / "containerd"), "--config", str(files.workdir / "containerd.toml")],
            env,
        )
        _wait("containerd", files.socket.exists, processes, 60)
        import_images(ctr, [pause_tarball], images)
        # Pods reach the API server (in-cluster clients, operators) at the node's IP: a relay
        # there to its loopback address (it listens on 127.0.0.1 only).
        api_port = urllib.parse.urlsplit(
            yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        ).port
        processes.start(
            "api-relay",
            [
                "socat",
                f"TCP-LISTEN:{api_port},bind={NODE_IP},fork,reuseaddr",
                f"TCP:127.0.0.1:{api_port}",
            ],
            env,
        )
        kubelet_port, kubelet_healthz = _free_port(), _free_port()
        (files.workdir / "kubelet.yaml").write_text(
            KUBELET_CONFIG.format(
                node_ip=NODE_IP,
                port=kubelet_port,
                healthz_port=kubelet_healthz,
                client_ca=pki / "ca.crt",
                socket=files.socket,
                cgroup_root=files.cgroup,
                logs=files.workdir / "pods",
                resolv_conf=files.workdir / "resolv.conf",
            )
        )
        processes.start(
            "kubelet",
            [
                str(bin_dir / "kubelet"),
                f"--config={files.workdir / 'kubelet.yaml'}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={files.workdir / 'kubelet'}",
                f"--cert-dir={files.workdir / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
            ],
            env,
        )
        proxy_healthz, proxy_metrics = _free_port(), _free_port()
        (files.workdir / "kube-proxy.yaml").write_text(
            KUBE_PROXY_CONFIG.format(
                pod_cidr=POD_CIDR,
                node=NODE_NAME,
                node_ip=NODE_IP,
                healthz_port=proxy_healthz,
                metrics_port=proxy_metrics,
                kubeconfig=kubeconfig,
            )
        )
        processes.start(
            "kube-proxy",
            [str(bin_dir / "kube-proxy"), f"--config={files.workdir / 'kube-proxy.yaml'}"],
            env,
        )
        dns_ready = _free_port()
        (files.workdir / "Corefile").write_text(
            COREFILE.format(node_ip=NODE_IP, ready_port=dns_ready, kubeconfig=kubeconfig)
        )
        processes.start(
            "coredns",
            [str(bin_dir / "coredns"), "-conf", str(files.workdir / "Corefile")],
            env,
        )
        _wait("coredns", lambda: _answers(f"http://127.0.0.1:{dns_ready}/ready"), processes, 60)
        kubectl = [str(bin_dir / "kubectl"), f"--kubeconfig={kubeconfig}"]

        def node_ready() -> bool:
            done = subprocess.run(
                [*kubectl, "get", "node", NODE_NAME, "-o", "json"],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                return False
            conditions = json.loads(done.stdout)["status"].get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        _wait(f"node {NODE_NAME}", node_ready, processes, timeout)
        yield NODE_NAME
    except ClusterError as error:
        raise ClusterError(
            f"{error}\n--- kubelet log:\n{processes.tail('kubelet')}"
            f"\n--- containerd log:\n{processes.tail('containerd')}"
        ) from error
    finally:
        _teardown(bin_dir, files, processes, ctr, env, snapshot)


def _prepare(files: NodeFiles) -> None:
    files.run.mkdir(parents=True, exist_ok=True)
    files.cni_conf.mkdir(parents=True, exist_ok=True)
    (files.cni_conf / "10-mks.conflist").write_text(json.dumps(CNI_CONFIG, indent=2))
    # Pods resolve nothing outside the cluster (no upstream forwarder).
    (files.workdir / "resolv.conf").write_text("nameserver 127.0.0.1\noptions ndots:1\n")
    for command in (
        ["ip", "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "addr", "add", f"{NODE_IP}/{POD_CIDR.split('/')[1]}", "dev", BRIDGE],
        ["ip", "link", "set", BRIDGE, "up"],
    ):
        subprocess.run(command, check=True)
    # kubelet refuses a cgroup root that does not exist in every hierarchy.
    for controller in CGROUP_ROOT.iterdir():
        if controller.name != "unified":
            (controller / files.cgroup.lstrip("/")).mkdir(exist_ok=True)
    for rule in FORWARD_RULES:
        subprocess.run(["iptables", "-I", "FORWARD", *rule], check=True)


def _teardown(
    bin_dir: Path,
    files: NodeFiles,
    processes: _Processes,
    ctr: list[str],
    env: dict[str, str],
    before: HostSnapshot,
) -> None:
    """Every step runs even when one before it failed; their errors are raised together."""
    netns_before, results_before = set(before.netns), set(before.cni_results)
    errors: list[str] = []

    def step(what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as error:  # every step runs; the errors are raised together below
            errors.append(f"{what}: {error!r}")

    # kubelet first, so that nothing restarts a container; then every container (the pods'
    # sandboxes too) killed and removed through containerd, which unmounts their root
    # filesystems; then containerd. The shims outlive it (each in its own session): killed,
    # then whatever still runs in the node's cgroups.
    stop_first = [entry for entry in processes.started if entry[0] != "containerd"]
    step("stop kubelet, kube-proxy, CoreDNS, relay", lambda: _Processes.stop_these(stop_first))
    if files.socket.exists():
        step("remove containers", lambda: _remove_containers(ctr, env))
    step("stop containerd", processes.stop)
    step(
        "kill shims",
        lambda: subprocess.run(
            ["pkill", "-KILL", "-f", f"containerd-shim-runc-v2 .*{files.socket}"], check=False
        ),
    )
    step("kill what is left in the node's cgroups", lambda: _kill_cgroup_processes(files))
    step(
        "kube-proxy --cleanup",
        lambda: subprocess.run(
            [str(bin_dir / "kube-proxy"), "--cleanup"], capture_output=True, check=False
        ),
    )
    step("remove kubelet's and kube-proxy's chains", lambda: _remove_chains_since(before))
    step("remove our FORWARD rules", _remove_forward_rules)
    step("unmount", lambda: _unmount_under(files))
    # The sandboxes' network namespaces and CNI's cache of them (CNI's DEL never ran: kubelet
    # was stopped first); the veths go with the namespaces, then the bridge.
    step("delete network namespaces", lambda: _delete_netns(netns_before))
    step(
        "delete the bridge",
        lambda: subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False),
    )
    step("remove CNI's cache", lambda: _remove_cni_cache(results_before))
    step("remove cgroups", lambda: _remove_cgroups(files))
    for key, value in before.sysctls:
        step(f"restore {key}", functools.partial(Path("/proc/sys", key).write_text, value))
    step("remove run dir", lambda: shutil.rmtree(files.run, ignore_errors=True))
    if errors:
        raise ClusterError("node teardown left work undone:\n" + "\n".join(errors))


def _kill_cgroup_processes(files: NodeFiles) -> None:
    for controller in CGROUP_ROOT.iterdir():
        top = controller / files.cgroup.lstrip("/")
        for procs in top.rglob("cgroup.procs") if top.is_dir() else []:
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def _remove_forward_rules() -> None:
    for rule in FORWARD_RULES:
        while (
            subprocess.run(["iptables", "-D", "FORWARD", *rule], capture_output=True).returncode
            == 0
        ):
            pass


def _unmount_under(files: NodeFiles) -> None:
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        point = line.split()[4]
        if point.startswith((str(files.workdir), str(files.run))):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _delete_netns(before: set[str]) -> None:
    for netns in Path("/var/run/netns").glob("cni-*"):
        if netns.name not in before:
            subprocess.run(["ip", "netns", "delete", netns.name], capture_output=True, check=False)


def _remove_cni_cache(before: set[str]) -> None:
    for entry in CNI_RESULTS.glob("*"):
        if entry.name not in before:
            entry.unlink(missing_ok=True)
    shutil.rmtree(CNI_LEASES, ignore_errors=True)


def _remove_cgroups(files: NodeFiles) -> None:
    for controller in CGROUP_ROOT.iterdir():
        top = controller / files.cgroup.lstrip("/")
        if top.is_dir():
            for path in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir():
                    with contextlib.suppress(OSError):
                        path.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
