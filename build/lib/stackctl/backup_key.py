"""The backup key: an age X25519 identity, kept on the operator's host like the stack's
passphrase and never in a backup.

It does two things. Every part of a backup is encrypted to it (age: X25519 and
ChaCha20-Poly1305, in authenticated 64 KiB chunks), so a copy of the backup reveals nothing.
And the manifest, which lists every part's SHA-256, is authenticated with an HMAC keyed from
it: anyone may encrypt to a public key, only the key's holder can write a manifest that
restore accepts. A backup someone changed, or wrote, without the key is refused before
anything is read from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import IO, Any, cast

import pyrage

from stackctl.errors import StackctlError
from stackrules.local_state import backup_key_file

MAC_CONTEXT = b"mlflow-keycloak-stack backup manifest"


@dataclass(frozen=True)
class BackupKey:
    identity: pyrage.x25519.Identity
    path: Path

    @property
    def key_id(self) -> str:
        """Names the key in a manifest (not secret): which key restore needs."""
        public = str(self.identity.to_public()).encode()
        return hashlib.sha256(public).hexdigest()[:16]

    def _mac_key(self) -> bytes:
        return hmac.new(str(self.identity).encode(), MAC_CONTEXT, hashlib.sha256).digest()

    def mac(self, signed: Mapping[str, Any]) -> str:
        return hmac.new(self._mac_key(), canonical(signed), hashlib.sha256).hexdigest()

    def verify(self, signed: Mapping[str, Any], mac: str) -> bool:
        return hmac.compare_digest(self.mac(signed), mac)

    def encrypt(self, source: IO[bytes], target: IO[bytes]) -> None:
        pyrage.encrypt_io(
            cast(BufferedIOBase, source), cast(BufferedIOBase, target), [self.identity.to_public()]
        )

    def decrypt(self, source: IO[bytes], target: IO[bytes]) -> None:
        try:
            pyrage.decrypt_io(
                cast(BufferedIOBase, source), cast(BufferedIOBase, target), [self.identity]
            )
        except pyrage.DecryptError as error:
            raise StackctlError(
                f"cannot decrypt with the backup key {self.path}: {error}"
            ) from None

    def encrypt_bytes(self, plain: bytes) -> bytes:
        return pyrage.encrypt(plain, [self.identity.to_public()])

    def decrypt_bytes(self, sealed: bytes) -> bytes:
        try:
            return pyrage.decrypt(sealed, [self.identity])
        except pyrage.DecryptError as error:
            raise StackctlError(
                f"cannot decrypt with the backup key {self.path}: {error}"
            ) from None


def canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _read(path: Path) -> BackupKey:
    try:
        text = path.read_text().strip()
    except OSError as error:
        raise StackctlError(f"cannot read the backup key {path}: {error.strerror}") from None
    try:
        return BackupKey(pyrage.x25519.Identity.from_str(text), path)
    except pyrage.IdentityError:
        raise StackctlError(
            f"{path} is not a backup key (an AGE-SECRET-KEY-1... line, as `stackctl backup` "
            "writes); point --key-file or MKS_BACKUP_KEY_FILE at the one your backups were "
            "taken with"
        ) from None


def key_path(given: Path | None) -> Path:
    return given if given is not None else backup_key_file(os.environ)


def for_backup(given: Path | None) -> tuple[BackupKey, bool]:
    """The key a backup is taken with, made (mode 600) if there is none yet; and whether it
    was made now."""
    path = key_path(given)
    if path.exists():
        return _read(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    identity = pyrage.x25519.Identity.generate()
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(f"{identity}\n")
    return BackupKey(identity, path), True


def for_restore(given: Path | None) -> BackupKey:
    path = key_path(given)
    if not path.exists():
        raise StackctlError(
            f"no backup key at {path}: restore needs the key the backup was taken with "
            "(--key-file, or MKS_BACKUP_KEY_FILE); nothing was changed"
        )
    return _read(path)
