"""Reading the stack's config: the only module that reads `pulumi.Config`. Every bad value is
reported at once, before a single resource is created, secrets never repeated."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterator
from typing import Any

import pulumi
from pydantic import ValidationError

from stackconfig.base import MESSAGE_SHOWN_EXIT_CODE, ConfigError
from stackconfig.checks import cross_key_errors
from stackconfig.stack import StackConfig
from stackrules.names import NAMESPACE

# Fields whose values are secrets: an error names them but never repeats the value.
SECRET_FIELDS = frozenset(
    {
        "tlsKey",
        "clientSecret",
        "bindPassword",
        "externalDatabases",
        "accessKeyId",
        "secretAccessKey",
        "redisUrl",
    }
)
# Fields whose objects hold one of those (a unit test derives them from the models).
SECRET_HOLDERS = frozenset({"identityProviders", "ldap", "kubernetes", "artifacts"})


def _describe(error: Any) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key; check its spelling"
    if error["type"] == "missing":
        return f"{path}: required but not set. Fix: pulumi config set --path '{path}' <value>"
    message = str(error["msg"]).removeprefix("Value error, ")
    nested = "[" in path or "." in path
    fix = (
        f"pulumi config set --path '{path}' <value>"
        if nested
        else f"pulumi config set {path} <value>"
    )
    secret = any(str(part) in SECRET_FIELDS for part in error["loc"])
    flag = "--secret " if secret else ""
    fix = fix.replace("set ", f"set {flag}", 1)
    if secret:
        return f"{path} = [secret]: {message}. Fix: {fix}"
    if not _may_echo(error["loc"], error.get("input")):
        return f"{path}: {message}. Fix: {fix}"
    return f"{path} = {error.get('input')!r}: {message}. Fix: {fix}"


def _may_echo(loc: tuple[Any, ...], value: Any) -> bool:
    """Whether an error may repeat the value it refuses: only a scalar set at a named field
    that holds no secret. A misshaped list entry or object is not repeated: what was typed
    there may be a secret meant for one of its fields (`kubernetes.artifacts` given as
    'KEY:SECRET')."""
    scalar = value is None or isinstance(value, str | int | float | bool)
    return scalar and isinstance(loc[-1], str) and loc[-1] not in SECRET_HOLDERS


def plaintext_secrets(raw: dict[str, Any], secret_keys: Collection[str]) -> list[str]:
    """Every secret field the stack file holds in plain text: set without --secret, so it is
    written there as it is (and into version control with it)."""
    errors = []
    for key, value in raw.items():
        if key in secret_keys:
            continue
        for path in _secret_paths(key, key, value):
            where = f"--path '{path}'" if path != key else path
            errors.append(
                f"{path}: a secret set in plain text; the stack file holds it as it is. Fix: "
                f"pulumi config set --secret {where} <value>, then rotate it if that file was "
                "shared"
            )
    return errors


def _secret_paths(path: str, field: str, value: Any) -> Iterator[str]:
    if field in SECRET_FIELDS and value not in (None, "", {}, []):
        yield path
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _secret_paths(f"{path}.{name}", str(name), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_paths(f"{path}[{index}]", "", item)


def parse_config(
    raw: dict[str, Any], namespace: str = NAMESPACE, secret_keys: Collection[str] | None = None
) -> StackConfig:
    """Validate raw config values (camelCase keys, as in the stack file) into a StackConfig.
    With `secret_keys` (the keys the stack holds encrypted), a secret field outside them is
    refused as well."""
    # Reported with whatever else is wrong, so one run names every fix.
    plaintext = [] if secret_keys is None else plaintext_secrets(raw, secret_keys)
    errors: list[str] = []
    known = {field.alias or name for name, field in StackConfig.model_fields.items()}
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=1)
            hint = (
                f"did you mean {near[0]!r}?" if near else f"known keys: {', '.join(sorted(known))}"
            )
            errors.append(f"{key}: unknown config key; {hint}")
    if errors:
        raise ConfigError(_format(namespace, plaintext + errors))
    try:
        cfg = StackConfig.model_validate(raw)
    except ValidationError as exc:
        described = [_describe(e) for e in exc.errors()]
        raise ConfigError(_format(namespace, plaintext + described)) from None
    errors = plaintext + cross_key_errors(cfg)
    if errors:
        raise ConfigError(_format(namespace, errors))
    return cfg


def _format(namespace: str, errors: list[str]) -> str:
    lines = "\n".join(f"  - {namespace}:{error}" for error in errors)
    return f"invalid stack configuration ({len(errors)} problem(s)):\n{lines}"


# Keys whose values are lists or objects (set with `pulumi config set --path`).
STRUCTURED_KEYS = (
    "users",
    "teams",
    "permissions",
    "requireOtpFor",
    "identityProviders",
    "ldap",
    "kubernetes",
)


# A fix the program prints is pasted into the shell as it stands: through the project's wrapper
# (its CLI, backend and passphrase; a bare `pulumi` may reach another backend), naming the
# stack. The model's messages say `pulumi config set ...`; the stack's name is known only here.
FIX_COMMAND = re.compile(r"\bpulumi config (set|rm)\b")


def pasteable_fixes(message: str, stack: str) -> str:
    """Every `pulumi config set|rm` in message as `scripts/pulumi.sh config set|rm --stack S`."""
    return FIX_COMMAND.sub(
        lambda found: f"scripts/pulumi.sh config {found.group(1)} --stack {stack}", message
    )


def load_config() -> StackConfig:
    """Read this stack's config once; raise ConfigError naming every bad key."""
    namespace = pulumi.get_project()
    prefix = f"{namespace}:"
    config = pulumi.Config(namespace)
    raw: dict[str, Any] = {}
    # Which keys the stack sets, misspelt ones included (pulumi.Config can only be asked for
    # known names): the language host hands the whole map to the program as PULUMI_CONFIG.
    for full_key in sorted(pulumi.runtime.get_config_env()):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if key in STRUCTURED_KEYS:
            # Read as JSON directly: an object holding a secret (an IdP's clientSecret) is a
            # secret as a whole, and pulumi.Config.get_object would warn about reading it.
            text = pulumi.runtime.get_config(full_key)
            raw[key] = None if text is None else json.loads(text)
        elif pulumi.runtime.is_config_secret(full_key):
            # A secret (tlsKey) is read as what it is; the model keeps it, and whoever uses it
            # wraps it in pulumi.Output.secret again.
            raw[key] = pulumi.runtime.get_config(full_key)
        else:
            raw[key] = config.get(key)
    secret_keys = {key for key in raw if pulumi.runtime.is_config_secret(f"{prefix}{key}")}
    try:
        return parse_config(raw, namespace, secret_keys)
    except ConfigError as error:
        # Shown once, as the only error: the Python language host treats this exit code as
        # "the program already told the user why", and adds no "exited with code 1" of its own.
        pulumi.log.error(pasteable_fixes(str(error), pulumi.get_stack()))
        raise SystemExit(MESSAGE_SHOWN_EXIT_CODE) from error
