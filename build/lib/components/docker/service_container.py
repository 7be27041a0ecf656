"""What every service container of the stack shares: a pinned image, one network alias, one
port published on the bind address, a health check the deployment waits for."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from stackrules.names import ENV_NAMES_LABEL


@dataclass(frozen=True)
class Placement:
    """Where a service runs and how it is reached."""

    container_name: pulumi.Input[str]
    network_names: Sequence[pulumi.Input[str]]
    """The networks it joins, with the same alias on each: a service reaches only what shares
    a network with it."""
    alias: str
    bind_address: str
    host_port: int | None
    """None: not published on the host (behind the edge proxy)."""


@dataclass(frozen=True)
class HealthCheck:
    """How Docker tells that a service is ready, and how long `pulumi up` waits for that."""

    test: list[str]
    start_period: str
    wait_timeout: int


# How often Docker runs a health check. `pulumi up` waits for the first healthy report of each
# service before the next starts, so every chain step loses half an interval on average (this
# host's Docker 20.10 knows no separate start interval); the probes are cheap enough for 2 s.
# The retries keep five minutes of failures before a running service counts as unhealthy.
HEALTH_INTERVAL_SECONDS = 2
HEALTH_RETRIES = 150


# Docker keeps a container's whole log unless told otherwise, until the disk is full: each
# container's log is rotated at LOG_MAX_SIZE and at most LOG_MAX_FILES are kept (`docker logs`
# still reads them; json-file is the driver that allows both on every Docker engine).
LOG_DRIVER = "json-file"
LOG_MAX_SIZE = "10m"
LOG_MAX_FILES = 5


def http_ready_probe(port: int, path: str) -> list[str]:
    """A health check that GETs `path` on the container's own `port` and passes on HTTP 200,
    with bash's /dev/tcp alone: neither the official Keycloak image nor a slim Python image
    has curl, and a shell builtin costs less than starting an interpreter every interval."""
    request = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && "
        f"printf 'GET {path} HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\n"
        "Connection: close\\r\\n\\r\\n' >&3"
        " && head -n 1 <&3 | grep -q ' 200 '"
    )
    return ["CMD", "bash", "-c", request]


def env_lines(env: Mapping[str, pulumi.Input[str]]) -> list[pulumi.Output[str]]:
    """A container's environment as `KEY=value` lines, each written once. Each line is its own
    Output: secret when its value is, and known in a preview when its value is (so the policy
    pack judges `DEFAULT_MLFLOW_PERMISSION=...` before the generated secrets exist)."""
    return [pulumi.Output.concat(key, "=", value) for key, value in env.items()]


def pulled_image(
    name: str,
    image: pulumi.Input[str],
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
) -> docker.RemoteImage:
    """`image` on this host: a local image of that name is used as it is, else it is pulled;
    it stays on the host after destroy (other stacks may use it)."""
    return docker.RemoteImage(
        name,
        name=image,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )


def local_image(
    name: str,
    image: pulumi.Input[str],
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
) -> pulumi.Output[str]:
    """The id of `image` on this host (see pulled_image), which is what a container runs."""
    image_id: pulumi.Output[str] = pulled_image(name, image, parent, after).image_id
    return image_id


def build_fingerprint(context: Path, build_args: Mapping[str, str]) -> str:
    """A short hash of the build context and arguments: a new one means a new image tag,
    which makes Pulumi replace the container when what goes into the image changes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode())
        digest.update(path.read_bytes())
    for key in sorted(build_args):
        digest.update(f"{key}={build_args[key]}".encode())
    return digest.hexdigest()[:12]


def built_image(
    name: str,
    *,
    repository: str,
    context: Path,
    build_args: dict[str, str],
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
) -> pulumi.Output[str]:
    """The id of the image built on this host from `context`'s Dockerfile with `build_args`,
    tagged `repository:<build fingerprint>`; no registry (skip_push). It is run by id, like the
    pulled images: the container changes exactly when the built content does."""
    built = docker.Image(
        f"{name}-image",
        image_name=f"{repository}:{build_fingerprint(context, build_args)}",
        build=docker.DockerBuildArgs(
            context=str(context), dockerfile=str(context / "Dockerfile"), args=build_args
        ),
        skip_push=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )
    return local_image(f"{name}-built-image", built.image_name, parent)


def service_container(
    name: str,
    *,
    placement: Placement,
    internal_port: int,
    image: pulumi.Input[str],
    env: Mapping[str, pulumi.Input[str]],
    health: HealthCheck,
    parent: pulumi.Resource,
    command: list[str] | None = None,
    volumes: list[docker.ContainerVolumeArgs] | None = None,
    published: Sequence[tuple[str, int, int]] = (),
    uploads: Sequence[docker.ContainerUploadArgs] = (),
    labels: dict[str, str] | None = None,
    after: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    """A long-running container that `pulumi up` waits for until its health check passes.
    It publishes `internal_port` on the placement's host port (if any), and each
    (host address, host port, container port) of `published`. Its `env` names are declared in
    a label for the policy pack (ENV_NAMES_LABEL)."""
    ports = list(published)
    labels = {**(labels or {}), ENV_NAMES_LABEL: ",".join(env)}
    if placement.host_port is not None:
        ports.insert(0, (placement.bind_address, placement.host_port, internal_port))
    return docker.Container(
        name,
        name=placement.container_name,
        image=image,
        command=command,
        envs=env_lines(env),
        volumes=volumes,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=network, aliases=[placement.alias])
            for network in placement.network_names
        ],
        ports=[
            docker.ContainerPortArgs(internal=inside, external=outside, ip=address)
            for address, outside, inside in ports
        ],
        uploads=list(uploads),
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=health.test,
            interval=f"{HEALTH_INTERVAL_SECONDS}s",
            timeout="5s",
            start_period=health.start_period,
            retries=HEALTH_RETRIES,
        ),
        log_driver=LOG_DRIVER,
        log_opts={"max-size": LOG_MAX_SIZE, "max-file": str(LOG_MAX_FILES)},
        restart="unless-stopped",
        wait=True,
        wait_timeout=health.wait_timeout,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )
