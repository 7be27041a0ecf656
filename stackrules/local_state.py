"""Where a stack's state, passphrase and toolchain live on this host when the user says nothing:
a file:// backend and a generated passphrase, no account. scripts/lib.sh reads these too:
`python3 -m stackrules.local_state` prints them as shell assignments."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from os import environ as os_environ
from pathlib import Path

from stackrules.names import NAMESPACE


def _home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def cache_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("MKS_CACHE") or _home(environ) / ".cache" / NAMESPACE)


def state_dir(environ: Mapping[str, str]) -> Path:
    return Path(
        environ.get("MKS_STATE_DIR") or _home(environ) / ".local/share" / NAMESPACE / "state"
    )


def passphrase_file(environ: Mapping[str, str]) -> Path:
    default = _home(environ) / ".config" / NAMESPACE / "passphrase"
    return Path(environ.get("MKS_PASSPHRASE_FILE") or default)


def backup_key_file(environ: Mapping[str, str]) -> Path:
    """The key `stackctl backup` encrypts and signs with: kept like the passphrase, never with
    the backups."""
    default = _home(environ) / ".config" / NAMESPACE / "backup-key"
    return Path(environ.get("MKS_BACKUP_KEY_FILE") or default)


def pulumi_login(environ: Mapping[str, str]) -> str | None:
    """The backend the user's own Pulumi is logged into (`pulumi login`: Pulumi Cloud, S3, a
    directory...), from its credentials file; None without one."""
    home = Path(environ.get("PULUMI_HOME") or _home(environ) / ".pulumi")
    try:
        current = json.loads((home / "credentials.json").read_text()).get("current")
    except (OSError, ValueError, AttributeError):
        return None
    return str(current) if current else None


def backend_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What the Pulumi CLI needs on top of `environ` to reach a stack with no account: the
    file:// backend, unless the user set one or their Pulumi is logged in somewhere, and the
    passphrase file, unless they set their own."""
    added = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
    if not environ.get("PULUMI_BACKEND_URL") and not pulumi_login(environ):
        added["PULUMI_BACKEND_URL"] = f"file://{state_dir(environ)}"
    if not environ.get("PULUMI_CONFIG_PASSPHRASE") and not environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        added["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file(environ))
    return added


def main() -> None:
    if sys.argv[1:] == ["--login"]:  # scripts/lib.sh: the user's own login, if any
        sys.stdout.write(pulumi_login(os_environ) or "")
        return
    values = {
        "MKS_CACHE": cache_dir(os_environ),
        "MKS_STATE_DIR": state_dir(os_environ),
        "MKS_PASSPHRASE_FILE": passphrase_file(os_environ),
    }
    for name, value in values.items():
        sys.stdout.write(f"{name}={shlex.quote(str(value))}\n")


if __name__ == "__main__":
    main()
