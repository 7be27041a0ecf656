"""stackctl backup and restore: the stack's three databases, its artifacts and the Pulumi state
of its Keycloak objects, out to a directory and back into a freshly created stack.

A backup is secret material (Keycloak's client secrets, password hashes): its directory is
mode 700, every file in it mode 600. The manifest is written last, so a backup cut short has
none and is refused; every part carries its size and SHA-256, checked before restore touches
anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from stackctl import state_graft
from stackctl.errors import StackctlError
from stackctl.outputs import DatabaseStore, DataStores, StackOutputs
from stackrules.versions import pin

FORMAT = 1
MANIFEST = "manifest.json"
ARTIFACTS = "artifacts.tar"
IDENTITIES = "identity-state.json"
CHUNK = 1 << 20

if TYPE_CHECKING:
    from pulumi import automation as auto

Say = Callable[[str], None]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    kind: Literal["database", "artifacts", "identities"]
    database: str | None = None
    bytes: int
    sha256: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: int
    stack: str
    realm: str
    created: str
    versions: dict[str, str]
    writes_paused_seconds: float
    parts: list[Part]

    def part(self, kind: str, database: str | None = None) -> Part | None:
        return next(
            (p for p in self.parts if p.kind == kind and p.database == database),
            None,
        )


def data_stores(outputs: StackOutputs) -> DataStores:
    if outputs.data_stores is None:
        raise StackctlError(
            "the stack has no dataStores output (deployed by an older version); run "
            "`pulumi up` once, then back up"
        )
    return outputs.data_stores


# -- docker ---------------------------------------------------------------------------------


def docker(*args: str, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> str:
    """Run the docker CLI; its last stderr line becomes the error if it fails."""
    try:
        done = subprocess.run(
            ["docker", *args],
            stdin=stdin,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            check=False,
        )
    except FileNotFoundError:
        raise StackctlError(
            "no docker CLI on PATH: backup and restore run on the stack's Docker host"
        ) from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise StackctlError(f"docker {' '.join(args[:2])} failed: {lines[-1] if lines else '?'}")
    return done.stdout.decode() if stdout is None else ""


def _psql_value(store: DatabaseStore, query: str) -> str:
    return docker(
        "exec", "-u", "postgres", store.container,
        "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", store.database, "-c", query,
    ).strip()  # fmt: skip


@contextmanager
def writes_paused(containers: list[str], say: Say) -> Iterator[Callable[[], float]]:
    """Keycloak and MLflow frozen (`docker pause`): requests wait rather than fail, and the
    copies of the three databases and the artifacts are of one moment."""
    started = time.monotonic()
    docker("pause", *containers)
    say(f"paused {', '.join(containers)}: writes wait until the copy is taken")
    try:
        yield lambda: time.monotonic() - started
    finally:
        docker("unpause", *containers)
        say(f"unpaused after {time.monotonic() - started:.1f} s")


# -- backup ---------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _part(directory: Path, file: str, kind: str, database: str | None = None) -> Part:
    path = directory / file
    path.chmod(0o600)
    return Part.model_validate(
        {
            "file": file,
            "kind": kind,
            "database": database,
            "bytes": path.stat().st_size,
            "sha256": _sha256(path),
        }
    )


def _new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise StackctlError(
            f"{path} exists and is not an empty directory; a backup never overwrites: "
            "name a new directory"
        )
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def take_backup(
    outputs: StackOutputs, deployment: Mapping[str, Any], stack: str, to: Path, say: Say
) -> Manifest:
    """Copy the databases (pg_dump in their containers), the artifacts volume and the Pulumi
    state of the Keycloak objects into `to`, with the manifest written last."""
    stores = data_stores(outputs)
    identities = state_graft.identities(deployment)
    _new_directory(to)
    old_umask = os.umask(0o077)
    try:
        (to / IDENTITIES).write_text(json.dumps({"stack": stack, "resources": identities}))
        parts = [_part(to, IDENTITIES, "identities")]
        with writes_paused(stores.services, say) as paused:
            for store in stores.databases:
                file = f"{store.database}.sql"
                with (to / file).open("wb") as out:
                    docker(
                        "exec", "-u", "postgres", store.container,
                        "pg_dump", "--no-owner", "--no-acl", "-d", store.database,
                        stdout=out,
                    )  # fmt: skip
                parts.append(_part(to, file, "database", store.database))
                say(f"database {store.database}: {parts[-1].bytes} bytes")
            with (to / ARTIFACTS).open("wb") as out:
                docker(
                    "cp", f"{stores.artifacts.container}:{stores.artifacts.path}", "-", stdout=out
                )
            parts.append(_part(to, ARTIFACTS, "artifacts"))
            say(f"artifacts: {parts[-1].bytes} bytes")
            paused_for = paused()
        manifest = Manifest(
            format=FORMAT,
            stack=stack,
            realm=outputs.realm,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            versions={name: pin(name) for name in ("KEYCLOAK_VERSION", "MLFLOW_VERSION")},
            writes_paused_seconds=round(paused_for, 2),
            parts=parts,
        )
        (to / MANIFEST).write_text(manifest.model_dump_json(indent=2))
        (to / MANIFEST).chmod(0o600)
    finally:
        os.umask(old_umask)
    return manifest


# -- restore --------------------------------------------------------------------------------


def verify_backup(directory: Path, stores: DataStores) -> Manifest:
    """The backup's manifest, once every part it needs is there, whole and unchanged; else
    one error naming every problem."""
    path = directory / MANIFEST
    if not path.is_file():
        raise StackctlError(
            f"{directory} holds no {MANIFEST}: not a backup, or one cut short (the manifest is "
            "written last); nothing was changed: restore from a complete backup"
        )
    try:
        manifest = Manifest.model_validate_json(path.read_text())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StackctlError(
            f"{path} is damaged ({where}: {first['msg']}); nothing was changed"
        ) from None
    if manifest.format != FORMAT:
        raise StackctlError(
            f"{path} is backup format {manifest.format}; this stackctl restores format "
            f"{FORMAT}; nothing was changed"
        )
    problems = []
    needed = [("identities", None), ("artifacts", None)] + [
        ("database", store.database) for store in stores.databases
    ]
    for kind, database in needed:
        if manifest.part(kind, database) is None:
            problems.append(f"no {kind} part{f' for database {database}' if database else ''}")
    for part in manifest.parts:
        file = directory / part.file
        if not file.is_file():
            problems.append(f"{part.file} is missing")
        elif file.stat().st_size != part.bytes:
            problems.append(f"{part.file} has {file.stat().st_size} bytes, not {part.bytes}")
        elif _sha256(file) != part.sha256:
            problems.append(f"{part.file} does not match its SHA-256")
    if problems:
        raise StackctlError(
            f"backup {directory} is damaged or incomplete, nothing was changed: "
            + "; ".join(problems)
        )
    return manifest


def assert_fresh(stores: DataStores) -> None:
    """Restore overwrites: refuse a stack that already holds experiments or runs."""
    tracking = stores.database("tracking")
    counts = _psql_value(
        tracking,
        "select (select count(*) from experiments where experiment_id <> 0) || ' ' || "
        "(select count(*) from runs)",
    ).split()
    if counts != ["0", "0"]:
        raise StackctlError(
            f"the stack already holds {counts[0]} experiment(s) and {counts[1]} run(s), which "
            "restore would overwrite; restore into a freshly created stack (pulumi destroy, "
            "pulumi up), or pass --overwrite"
        )


def _restore_database(store: DatabaseStore, dump: Path) -> None:
    """The database's schema replaced by the dump's, in one transaction: a failure leaves the
    database as it was."""
    owner = store.owner.replace('"', '""')
    preamble = (
        "DROP SCHEMA public CASCADE;\n"
        f'CREATE SCHEMA public AUTHORIZATION "{owner}";\n'
        f'SET ROLE "{owner}";\n'
    )
    with tempfile.TemporaryFile() as script:
        script.write(preamble.encode())
        with dump.open("rb") as f:
            shutil.copyfileobj(f, script, CHUNK)
        script.seek(0)
        docker(
            "exec", "-i", "-u", "postgres", store.container,
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
            "-o", "/dev/null", "-d", store.database,
            stdin=script,
        )  # fmt: skip


def restore_data(directory: Path, manifest: Manifest, stores: DataStores, say: Say) -> None:
    """Keycloak and MLflow stopped, the databases and artifacts put back."""
    docker("stop", *reversed(stores.services))
    say(f"stopped {', '.join(stores.services)}")
    for store in stores.databases:
        part = manifest.part("database", store.database)
        assert part is not None, "verify_backup found every database part"
        _restore_database(store, directory / part.file)
        say(f"database {store.database}: restored")
    # Unpacked as root by a throwaway container of MLflow's image on MLflow's volumes: tar
    # keeps the files' owner (MLflow's user); `docker cp` would make them root's.
    container = stores.artifacts.container
    image = docker("inspect", "--format", "{{.Image}}", container).strip()
    parent = str(Path(stores.artifacts.path).parent)
    with (directory / ARTIFACTS).open("rb") as archive:
        docker(
            "run", "--rm", "-i", "--network", "none", "--user", "0",
            "--volumes-from", container, "--entrypoint", "tar", image,
            "-x", "-p", "-f", "-", "-C", parent,
            stdin=archive,
        )  # fmt: skip
    say("artifacts: restored")


def saved_identities(directory: Path) -> tuple[str, list[dict[str, Any]]]:
    saved = json.loads((directory / IDENTITIES).read_text())
    return str(saved["stack"]), list(saved["resources"])


# How long restore waits for the restarted services' health checks (Keycloak migrates a
# restored schema at start).
SERVICES_READY_SECONDS = 600


def start_services(stores: DataStores, say: Say, timeout: float = SERVICES_READY_SECONDS) -> None:
    """Start the services and wait until Docker reports each healthy: the `up` that follows
    talks to MLflow's and Keycloak's APIs at once (MLflow's container is not replaced, so
    nothing else in that `up` waits for it)."""
    docker("start", *stores.services)
    say(f"started {', '.join(stores.services)}; waiting for their health checks")
    deadline = time.monotonic() + timeout
    while True:
        states = docker(
            "inspect", "--format", "{{.Name}} {{.State.Health.Status}}", *stores.services
        ).split("\n")
        waiting = [
            line.split()[0].lstrip("/") for line in states if line and line.split()[-1] != "healthy"
        ]
        if not waiting:
            say(f"healthy: {', '.join(stores.services)}")
            return
        if time.monotonic() > deadline:
            raise StackctlError(
                f"{', '.join(waiting)} not healthy {timeout:.0f} s after the restart; see "
                f"`docker logs {waiting[0]}`"
            )
        time.sleep(1)


def import_state(stack: auto.Stack, deployment: dict[str, Any], version: int) -> None:
    """`pulumi stack import` of the grafted state, from a file only this user can read (it
    holds secrets in plain text until Pulumi encrypts them), deleted whatever happens."""
    from pulumi import automation as auto

    workspace = stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace)
    with tempfile.TemporaryDirectory(prefix="stackctl-restore-") as scratch:
        file = Path(scratch) / "state.json"
        file.touch(mode=0o600)
        file.write_text(json.dumps({"version": version, "deployment": deployment}))
        # Fails with a CommandError, which pulumi_stack reports.
        workspace.pulumi_command.run(
            ["stack", "import", "--file", str(file), "--stack", stack.name],
            str(workspace.work_dir),
            workspace.env_vars,
        )
