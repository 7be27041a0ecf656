"""stackctl backup and restore: the stack's three databases, its artifacts and the Pulumi state
of its Keycloak objects, out to a directory and back into a freshly created stack.

A backup is secret material (Keycloak's client secrets, password hashes, TOTP seeds): every
part is encrypted to the backup key (stackctl/backup_key.py), its directory is mode 700, every
file in it mode 600. The manifest is written last, so a backup cut short has none and is
refused; it lists every part's size and SHA-256 and is authenticated with the key, all checked
before restore touches anything.

A backup is data, never code, even in the key holder's hands: the dumps are Postgres archives
(`pg_dump -Fc`) that pg_restore turns into SQL whose psql meta-commands are locked out
(`\\restrict`), run by the database's owning role rather than the superuser (no
`COPY ... PROGRAM`); the Pulumi state it carries is ids, inputs and outputs, without the
pickled code of dynamic resources (stackctl/state_graft.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from stackctl import state_graft
from stackctl.backup_key import BackupKey
from stackctl.errors import StackctlError
from stackctl.outputs import DatabaseStore, DataStores, StackOutputs
from stackrules.versions import pin

FORMAT = 2
MANIFEST = "manifest.json"
ARTIFACTS = "artifacts.tar.age"
IDENTITIES = "identity-state.json.age"
CHUNK = 1 << 20

if TYPE_CHECKING:
    from pulumi import automation as auto

Say = Callable[[str], None]


def dump_file(database: str) -> str:
    return f"{database}.dump.age"


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)

    # A name in the backup's directory, nothing that reaches outside it.
    file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
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
    key: str
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


def _popen(args: list[str], **streams: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(["docker", *args], **streams)
    except FileNotFoundError:
        raise StackctlError(
            "no docker CLI on PATH: backup and restore run on the stack's Docker host"
        ) from None


def _failed(args: list[str], stderr: bytes) -> StackctlError:
    """The error line of the command's stderr (Postgres follows it with context lines), else
    its last."""
    lines = stderr.decode(errors="replace").strip().splitlines()
    errors = [line for line in lines if "ERROR:" in line or "error:" in line]
    said = (errors or lines or ["?"])[0 if errors else -1]
    return StackctlError(f"docker {' '.join(args[:2])} failed: {said.strip()}")


def docker(*args: str) -> str:
    """Run the docker CLI; its last stderr line becomes the error if it fails."""
    done = _popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = done.communicate()
    if done.returncode != 0:
        raise _failed(list(args), err)
    return out.decode()


def docker_sealed_out(key: BackupKey, target: Path, *args: str) -> None:
    """Run the docker CLI with its output encrypted into `target`, never on disk in clear."""
    with target.open("wb") as out, tempfile.TemporaryFile() as err:
        running = _popen(list(args), stdout=subprocess.PIPE, stderr=err)
        assert running.stdout is not None
        with running.stdout:
            key.encrypt(running.stdout, out)
        if running.wait() != 0:
            err.seek(0)
            raise _failed(list(args), err.read())


def docker_sealed_in(key: BackupKey, source: Path, *args: str) -> None:
    """Run the docker CLI reading `source` decrypted on its input."""
    with source.open("rb") as sealed, tempfile.TemporaryFile() as err:
        running = _popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert running.stdin is not None
        undecryptable: StackctlError | None = None
        try:
            key.decrypt(sealed, running.stdin)
        except BrokenPipeError:
            pass  # the command stopped reading: its own error says why
        except StackctlError as error:
            undecryptable = error
            running.kill()  # half a stream must not be taken for a whole one
        with suppress(BrokenPipeError):
            running.stdin.close()
        failed = running.wait() != 0
        if undecryptable is not None:
            raise undecryptable
        if failed:
            err.seek(0)
            raise _failed(list(args), err.read())


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
    outputs: StackOutputs,
    deployment: Mapping[str, Any],
    stack: str,
    to: Path,
    key: BackupKey,
    say: Say,
) -> Manifest:
    """Copy the databases (pg_dump in their containers), the artifacts volume and the Pulumi
    state of the Keycloak objects into `to`, each encrypted to `key`, with the manifest
    (signed with it) written last."""
    stores = data_stores(outputs)
    identities = state_graft.identities(deployment)
    _new_directory(to)
    old_umask = os.umask(0o077)
    try:
        state = json.dumps({"stack": stack, "resources": identities}).encode()
        (to / IDENTITIES).write_bytes(key.encrypt_bytes(state))
        parts = [_part(to, IDENTITIES, "identities")]
        with writes_paused(stores.services, say) as paused:
            for store in stores.databases:
                file = dump_file(store.database)
                docker_sealed_out(
                    key, to / file,
                    "exec", "-u", "postgres", store.container,
                    "pg_dump", "--format=custom", "-d", store.database,
                )  # fmt: skip
                parts.append(_part(to, file, "database", store.database))
                say(f"database {store.database}: {parts[-1].bytes} bytes")
            docker_sealed_out(
                key,
                to / ARTIFACTS,
                "cp",
                f"{stores.artifacts.container}:{stores.artifacts.path}",
                "-",
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
            key=key.key_id,
            parts=parts,
        )
        write_manifest(to, manifest, key)
    finally:
        os.umask(old_umask)
    return manifest


def write_manifest(directory: Path, manifest: Manifest, key: BackupKey) -> None:
    signed = manifest.model_dump(mode="json")
    (directory / MANIFEST).write_text(
        json.dumps({"signed": signed, "mac": key.mac(signed)}, indent=2)
    )
    (directory / MANIFEST).chmod(0o600)


# -- restore --------------------------------------------------------------------------------


def _signed_manifest(path: Path, key: BackupKey) -> dict[str, Any]:
    """The manifest's content, once its MAC proves the backup key's holder wrote it."""
    try:
        envelope = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise StackctlError(f"{path} is damaged ({error}); nothing was changed") from None
    if not isinstance(envelope, dict):
        raise StackctlError(f"{path} is damaged (not a JSON object); nothing was changed")
    if "signed" not in envelope and envelope.get("format") == 1:
        raise StackctlError(
            f"{path} is backup format 1 (unencrypted, unsigned): this stackctl restores only "
            f"format {FORMAT}; restore it with the stackctl that took it, or take a new backup; "
            "nothing was changed"
        )
    signed, mac = envelope.get("signed"), envelope.get("mac")
    if not isinstance(signed, dict) or not isinstance(mac, str):
        raise StackctlError(f"{path} is damaged (no signed content and mac); nothing was changed")
    if not key.verify(signed, mac):
        made_with = signed.get("key")
        why = (
            "it was changed after the backup key signed it"
            if made_with == key.key_id
            else f"it names key {made_with!r}, taken with another key than {key.key_id}"
        )
        raise StackctlError(
            f"{path} is not signed by the backup key {key.path}: {why}; nothing was changed. "
            "Restore from an unchanged backup, with the key it was taken with (--key-file)"
        )
    return signed


def verify_backup(directory: Path, stores: DataStores, key: BackupKey) -> Manifest:
    """The backup's manifest, once it is proven the key holder's and every part it needs is
    there, whole and unchanged; else one error naming every problem."""
    path = directory / MANIFEST
    if not path.is_file():
        raise StackctlError(
            f"{directory} holds no {MANIFEST}: not a backup, or one cut short (the manifest is "
            "written last); nothing was changed: restore from a complete backup"
        )
    signed = _signed_manifest(path, key)
    try:
        manifest = Manifest.model_validate(signed)
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


# In the database's container, as its owning role over the local socket: pg_restore turns
# the archive into SQL (starting with `\restrict` and a random key, so psql obeys no
# meta-command in it), written to a private file first so that psql runs only on a whole,
# readable archive; psql replaces the public schema in one transaction.
RESTORE_SCRIPT = (
    "umask 077; f=$(mktemp); trap 'rm -f \"$f\"' EXIT; "
    'pg_restore --no-owner --no-acl -f "$f" && '
    'psql -X -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null -U "$1" -d "$2" '
    '-c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public" -f "$f"'
)


def _restore_database(store: DatabaseStore, dump: Path, key: BackupKey) -> None:
    """The database's schema replaced by the dump's, in one transaction: a failure leaves the
    database as it was."""
    docker_sealed_in(
        key, dump,
        "exec", "-i", "-u", "postgres", store.container,
        "sh", "-c", RESTORE_SCRIPT, "sh", store.owner, store.database,
    )  # fmt: skip


def restore_data(
    directory: Path, manifest: Manifest, stores: DataStores, key: BackupKey, say: Say
) -> None:
    """Keycloak and MLflow stopped, the databases and artifacts put back."""
    docker("stop", *reversed(stores.services))
    say(f"stopped {', '.join(stores.services)}")
    for store in stores.databases:
        part = manifest.part("database", store.database)
        assert part is not None, "verify_backup found every database part"
        _restore_database(store, directory / part.file, key)
        say(f"database {store.database}: restored")
    # Unpacked as root by a throwaway container of MLflow's image on MLflow's volumes: tar
    # keeps the files' owner (MLflow's user); `docker cp` would make them root's.
    container = stores.artifacts.container
    image = docker("inspect", "--format", "{{.Image}}", container).strip()
    parent = str(Path(stores.artifacts.path).parent)
    part = manifest.part("artifacts")
    assert part is not None, "verify_backup found the artifacts part"
    docker_sealed_in(
        key, directory / part.file,
        "run", "--rm", "-i", "--network", "none", "--user", "0",
        "--volumes-from", container, "--entrypoint", "tar", image,
        "-x", "-p", "-f", "-", "-C", parent,
    )  # fmt: skip
    say("artifacts: restored")


def saved_identities(
    directory: Path, manifest: Manifest, key: BackupKey
) -> tuple[str, list[dict[str, Any]]]:
    part = manifest.part("identities")
    assert part is not None, "verify_backup found the identities part"
    saved = json.loads(key.decrypt_bytes((directory / part.file).read_bytes()))
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
