"""Rules on Docker containers: where ports are published, how Keycloak and MLflow are started."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from stackrules.addresses import is_loopback
from stackrules.names import (
    EDGE_PROXY_CONFIG_PATH,
    EDGE_PROXY_HTTPS_PORT,
    EDGE_PROXY_REDIRECT_PORT,
    EDGE_PROXY_ROLE,
    ENV_NAMES_LABEL,
    ROLE_LABEL,
)

from .props import (
    EnvEntry,
    declared_env_names,
    env_entries,
    env_value,
    is_unknown,
    known_items,
    nested,
    secret_paths,
    string_list,
)
from .resource_types import CONTAINER
from .rule import Resource, config_key, names_option, rule

WILDCARD = "0.0.0.0"


def _number(value: Any) -> str:
    """Port numbers arrive as floats (protobuf Struct); show 8080, not 8080.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "?" if value is None or is_unknown(value) else str(value)


ALLOWED_BINDS = names_option(
    "allowedBindAddresses", "Non-loopback host addresses ports may be published on."
)


@rule("ports-on-loopback-only", CONTAINER, config=ALLOWED_BINDS)
def ports_on_loopback(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Container ports are published on a loopback address (127.0.0.1, ::1, localhost) unless the
    address is listed in allowedBindAddresses; no ip means 0.0.0.0.
    """
    allowed = set(config.get("allowedBindAddresses") or [])
    ports = resource.props.get("ports")
    if ports is None or is_unknown(ports):
        return
    for port in ports:
        if is_unknown(port):
            continue
        address = port.get("ip")
        if is_unknown(address):
            continue
        address = address or WILDCARD  # Docker publishes on every interface when no ip is given.
        if is_loopback(address) or address in allowed:
            continue
        published = f"{_number(port.get('external'))}->{_number(port.get('internal'))}"
        everywhere = " (every interface)" if address in (WILDCARD, "::") else ""
        yield (
            f"Port {published} is published on {address}{everywhere}, so other machines can reach "
            f"it. Fix: publish on loopback with `pulumi config set "
            f"{config_key('bindAddress')} 127.0.0.1` (the default); if this exposure is "
            f"intended, add '{address}' to this policy's `allowedBindAddresses` in the policy "
            f"pack config."
        )


_DEV_COMMAND = re.compile(r"(?<![\w-])start-dev(?![\w-])|--profile[= ]dev\b")
# Settings only Keycloak's development mode needs: an embedded H2 database, no hostname check.
_DEV_ENV = {
    "KC_DB": {"dev-file", "dev-mem"},
    "KC_HOSTNAME_STRICT": {"false"},
    "KC_PROFILE": {"dev"},
    "QUARKUS_PROFILE": {"dev"},
}


def _labels(resource: Resource) -> dict[str, Any]:
    return {
        str(item.get("label")): item.get("value")
        for item in known_items(resource.props.get("labels"))
        if isinstance(item, dict)
    }


def _beyond_loopback(resource: Resource) -> list[dict[str, Any]]:
    """The container's published ports whose address is known and not loopback."""
    return [
        port
        for port in known_items(resource.props.get("ports"))
        if not is_unknown(port.get("ip")) and not is_loopback(port.get("ip") or WILDCARD)
    ]


def _not_the_edge_proxy(resource: Resource) -> list[str]:
    """Why a container labelled as the TLS edge proxy does not run like it (none: it does).

    The label alone would exempt anything; the proxy also runs its image's own command (Caddy)
    on the Caddyfile the stack uploads, with no env, and publishes beyond loopback only HTTPS
    and the redirect to it. MLflow or Keycloak in disguise needs a command or env of its own.
    """
    props = resource.props
    found = []
    for field in ("command", "entrypoints"):
        if props.get(field):
            found.append(f"its own {field} {props.get(field)!r}")
    if props.get("envs"):
        found.append("env settings")
    uploads = [item.get("file") for item in known_items(props.get("uploads"))]
    if EDGE_PROXY_CONFIG_PATH not in uploads:
        found.append(f"no Caddyfile uploaded to {EDGE_PROXY_CONFIG_PATH}")
    for port in _beyond_loopback(resource):
        if port.get("internal") not in (EDGE_PROXY_HTTPS_PORT, EDGE_PROXY_REDIRECT_PORT):
            found.append(f"port {_number(port.get('internal'))} published beyond loopback")
    return found


@rule("tls-beyond-loopback", CONTAINER)
def tls_beyond_loopback(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """A container that publishes a port beyond loopback is the stack's TLS edge proxy (label
    org.mlflow-stack.role=tls-edge-proxy, and it runs like the proxy: see _not_the_edge_proxy):
    nothing else speaks plain HTTP to the network."""
    if _labels(resource).get(ROLE_LABEL) == EDGE_PROXY_ROLE:
        unlike = _not_the_edge_proxy(resource)
        if _beyond_loopback(resource) and unlike:
            yield (
                f"Container {resource.name or ''} is labelled {ROLE_LABEL}={EDGE_PROXY_ROLE} but "
                f"does not run like the stack's TLS edge proxy ({'; '.join(unlike)}), so the "
                "label does not exempt its ports beyond loopback. Fix: publish beyond loopback "
                "only through the stack's EdgeProxy component, unchanged."
            )
        return
    for port in _beyond_loopback(resource):
        address = port.get("ip") or WILDCARD
        yield (
            f"Container {resource.name or ''} publishes {_number(port.get('external'))} on "
            f"{address} in plain HTTP: passwords and session cookies would cross the "
            f"network unencrypted. Fix: `pulumi config set {config_key('tls')} internal` (or "
            "files / acme): the edge proxy then publishes HTTPS and the services nothing."
        )


@rule("keycloak-production-mode", CONTAINER)
def keycloak_production_mode(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No container runs Keycloak in development mode: no `start-dev` in command or entrypoints and
    no
    dev-only KC_ settings (KC_DB=dev-file/dev-mem, KC_HOSTNAME_STRICT=false).
    """
    for field in ("entrypoints", "command"):
        arguments = resource.props.get(field)
        if is_unknown(arguments):
            continue
        for argument in string_list(arguments):
            if isinstance(argument, str) and _DEV_COMMAND.search(argument):
                yield (
                    f"`{field}` starts Keycloak in development mode ('{argument}'): HTTP without "
                    "a hostname check, an embedded database and developer defaults. Fix: run "
                    "`kc.sh start` (production mode) with KC_HOSTNAME set to the browser URL, "
                    "as the stack's KeycloakServer component does."
                )
    entries = env_entries(resource.props)
    if is_unknown(entries):
        return
    for entry in entries:
        dev_values = _DEV_ENV.get(entry.name) if isinstance(entry.name, str) else None
        if dev_values and str(entry.value).strip().lower() in dev_values:
            yield (
                f"Env {entry.name}={entry.value} is a Keycloak development-mode setting. Fix: "
                f"remove it; run Keycloak on Postgres (KC_DB=postgres) with KC_HOSTNAME set to "
                f"the browser URL (stack config {config_key('publicHostname')} and "
                f"{config_key('keycloakPort')})."
            )


@rule("container-env-names-declared", CONTAINER)
def env_names_declared(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every env entry a preview cannot read is named by the container's env-names label (one
    name per entry, in order), and every entry it can read has the name the label gives there.
    Without that, a setting built from another resource's output (unknown until `up`) would be
    invisible to the rules that judge it.
    """
    envs = resource.props.get("envs")
    if envs is None:
        return
    if is_unknown(envs):
        yield (
            "The container's env list is unknown as a whole in this preview, so no rule can "
            "judge a setting in it. Fix: give `envs` as a list with one Output per line (the "
            "stack's service_container does), not one Output of the whole list."
        )
        return
    declared = declared_env_names(resource.props)
    if declared is None:
        if any(is_unknown(item) for item in envs):
            yield (
                f"The container has env entries this preview cannot read and no {ENV_NAMES_LABEL} "
                "label naming them, so a setting could hide in one. Fix: create it with the "
                "stack's service_container, which declares the names."
            )
        return
    if len(declared) != len(envs):
        yield (
            f"The {ENV_NAMES_LABEL} label names {len(declared)} env entries, the container has "
            f"{len(envs)}. Fix: create it with the stack's service_container, which writes both "
            "from one mapping."
        )
        return
    for index, item in enumerate(envs):
        name = str(item).partition("=")[0]
        if not is_unknown(item) and name != declared[index]:
            yield (
                f"envs[{index}] is {name}, but the {ENV_NAMES_LABEL} label says "
                f"{declared[index]}. Fix: create the container with the stack's "
                "service_container, which writes both from one mapping."
            )


@rule("container-env-names-unique", CONTAINER)
def env_names_unique(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No env name is given twice: Docker keeps the last entry and the rules read the first, so a
    second OIDC_AUDIENCE or DEFAULT_MLFLOW_PERMISSION would pass the pack and still be what runs.
    """
    entries = env_entries(resource.props)
    if is_unknown(entries):
        return
    seen: dict[str, int] = {}
    for entry in entries:
        if not isinstance(entry.name, str):
            continue
        if entry.name in seen:
            yield (
                f"Env {entry.name} is set twice (envs[{seen[entry.name]}] and "
                f"envs[{entry.index}]): the container runs with the last one, which no other rule "
                "of this pack judges. Fix: set each env once."
            )
        seen.setdefault(entry.name, entry.index)


def _oidc_envs(resource: Resource) -> list[EnvEntry] | None:
    """The env entries of an MLflow container set up for OIDC (a known OIDC_DISCOVERY_URL),
    else None: the rule has nothing to judge."""
    entries = env_entries(resource.props)
    if is_unknown(entries):
        return None
    discovery = env_value(entries, "OIDC_DISCOVERY_URL")
    return None if discovery is None or is_unknown(discovery) else entries


@rule("mlflow-oidc-issuer-and-audience", CONTAINER)
def oidc_token_checks(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """A container configured with OIDC_DISCOVERY_URL also sets non-empty OIDC_ISSUER and
    OIDC_AUDIENCE, so bearer tokens' iss and aud are checked.
    """
    entries = _oidc_envs(resource)
    if entries is None:
        return
    issuer = env_value(entries, "OIDC_ISSUER")
    if not is_unknown(issuer) and not (issuer or "").strip():
        yield (
            "The container sets OIDC_DISCOVERY_URL but no OIDC_ISSUER, so MLflow accepts bearer "
            "tokens without checking who issued them. Fix: set OIDC_ISSUER to the realm's issuer "
            "as the browser sees it, http://<publicHostname>:<keycloakPort>/realms/<realm> "
            f"(stack config {config_key('publicHostname')}, {config_key('keycloakPort')}, "
            f"{config_key('realm')})."
        )
    audience = env_value(entries, "OIDC_AUDIENCE")
    if not is_unknown(audience) and not (audience or "").strip():
        yield (
            "The container sets OIDC_DISCOVERY_URL but no OIDC_AUDIENCE, so MLflow accepts "
            "bearer tokens issued to any client of the realm. Fix: set OIDC_AUDIENCE to MLflow's "
            f"client id (stack config {config_key('clientId')}) and keep the audience mapper "
            "that puts it into access tokens."
        )


# What the MLflow rules below judge: each must be known in a preview.
_JUDGED_OIDC_ENVS = (
    "OIDC_DISCOVERY_URL",
    "OIDC_ISSUER",
    "OIDC_AUDIENCE",
    "OIDC_CLIENT_ID",
    "DEFAULT_MLFLOW_PERMISSION",
)


@rule("mlflow-oidc-settings-known", CONTAINER)
def oidc_settings_known(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """MLflow's OIDC settings that the other rules judge (discovery URL, issuer, audience,
    client id, default permission) are known in a preview: built from config, not from another
    resource's output, which the pull request's preview could not see.
    """
    entries = env_entries(resource.props)
    if is_unknown(entries):
        return
    by_name = {entry.name: entry for entry in entries if isinstance(entry.name, str)}
    if "OIDC_DISCOVERY_URL" not in by_name:
        return
    for name in _JUDGED_OIDC_ENVS:
        if name in by_name and is_unknown(by_name[name].value):
            yield (
                f"{name} (envs[{by_name[name].index}]) is unknown until `up`, so this preview "
                "cannot judge it. Fix: build it from the stack config (a plain string), not "
                "from another resource's output."
            )


def _realm_of(url: Any) -> str | None:
    """The realm named in an issuer or discovery URL (``.../realms/<realm>[/...]``)."""
    found = re.search(r"/realms/([^/?#]+)", url) if isinstance(url, str) else None
    return found.group(1) if found else None


# Clients every Keycloak realm has; "account" is an audience of nearly every access token.
KEYCLOAK_BUILTIN_CLIENTS = frozenset(
    {
        "account",
        "account-console",
        "admin-cli",
        "broker",
        "realm-management",
        "security-admin-console",
    }
)


@rule("mlflow-oidc-audience-is-the-client", CONTAINER)
def token_audience_and_issuer(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """A container configured with OIDC_DISCOVERY_URL sets OIDC_AUDIENCE equal to its OIDC_CLIENT_ID
    and OIDC_ISSUER of the realm OIDC_DISCOVERY_URL names.
    """
    entries = _oidc_envs(resource)
    if entries is None:
        return
    discovery = env_value(entries, "OIDC_DISCOVERY_URL")
    audience = env_value(entries, "OIDC_AUDIENCE")
    client_id = env_value(entries, "OIDC_CLIENT_ID")
    # In a preview of a new stack the client id is unknown; Keycloak's own clients are wrong
    # whatever it turns out to be.
    builtin = isinstance(audience, str) and audience in KEYCLOAK_BUILTIN_CLIENTS
    known = isinstance(audience, str) and isinstance(client_id, str) and audience and client_id
    if builtin or (known and audience != client_id):
        yield (
            f"OIDC_AUDIENCE is '{audience}', not MLflow's own client id"
            f"{f' {client_id!r}' if isinstance(client_id, str) else ''}, so MLflow accepts "
            "tokens Keycloak issued for another audience ('account' is in almost every token "
            "of the realm). Fix: set OIDC_AUDIENCE to OIDC_CLIENT_ID "
            f"(stack config {config_key('clientId')})."
        )
    issuer = env_value(entries, "OIDC_ISSUER")
    if issuer and not is_unknown(issuer) and _realm_of(issuer) != _realm_of(discovery):
        yield (
            f"OIDC_ISSUER '{issuer}' is not the issuer of the realm OIDC_DISCOVERY_URL names "
            f"({_realm_of(discovery)!r}), so MLflow would take tokens of another realm. Fix: set "
            "OIDC_ISSUER to <Keycloak's browser URL>/realms/<realm> of the same realm "
            f"(stack config {config_key('realm')})."
        )


# mlflow-oidc-auth's own default when DEFAULT_MLFLOW_PERMISSION is unset (11.0.2, config.py).
PLUGIN_DEFAULT_PERMISSION = "NO_PERMISSIONS"


@rule(
    "mlflow-default-permission",
    CONTAINER,
    config={
        "allowedDefaultPermissions": {
            "type": "array",
            "items": {"enum": ["NO_PERMISSIONS", "READ", "EDIT", "MANAGE"]},
            "default": ["NO_PERMISSIONS", "READ"],
            "description": "Permissions MLflow may grant by default.",
        }
    },
)
def default_permission(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """MLflow's DEFAULT_MLFLOW_PERMISSION (the plugin's NO_PERMISSIONS when unset) is one of
    allowedDefaultPermissions (default NO_PERMISSIONS, READ).
    """
    entries = _oidc_envs(resource)
    if entries is None:
        return
    permission = env_value(entries, "DEFAULT_MLFLOW_PERMISSION")
    if is_unknown(permission):
        return
    allowed = set(config["allowedDefaultPermissions"])
    effective = str(permission or PLUGIN_DEFAULT_PERMISSION).strip().upper()
    if effective in allowed:
        return
    shown = permission if permission else f"unset, so the plugin's default {effective}"
    yield (
        f"DEFAULT_MLFLOW_PERMISSION is {shown}: every signed-in user gets {effective} on every "
        "experiment and model nobody granted them anything on. Fix: `pulumi config set "
        f"{config_key('defaultMlflowPermission')} NO_PERMISSIONS` (the default) and grant "
        f"access per experiment; allowed here: {sorted(allowed)}."
    )


# Settings that give a container the host itself: its network, processes, devices, kernel.
_HOST_MODES = ("networkMode", "pidMode", "ipcMode", "usernsMode", "cgroupnsMode")


@rule("container-no-host-access", CONTAINER)
def no_host_access(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No container is privileged, shares the host's network, PID, IPC, user or cgroup namespace,
    mounts a host path, adds a capability or gets a host device.
    """
    props = resource.props
    found: list[str] = []
    if props.get("privileged") is True:
        found.append("privileged: true")
    for mode in _HOST_MODES:
        if str(props.get(mode) or "").lower() == "host":
            found.append(f"{mode}: host")
    for mount in known_items(props.get("mounts")):
        if str(mount.get("type") or "").lower() == "bind":
            found.append(f"bind mount of {mount.get('source')!r}")
    for volume in known_items(props.get("volumes")):
        if volume.get("hostPath") and not is_unknown(volume["hostPath"]):
            found.append(f"host path {volume['hostPath']!r}")
    found += [f"capability {cap}" for cap in known_items(nested(props, "capabilities", "adds"))]
    if known_items(props.get("devices")):
        found.append("host devices")
    for what in found:
        yield (
            f"Container {resource.name or ''} is given the host ({what}): a compromise of the "
            "service becomes a compromise of the machine. Fix: remove it; the stack's services "
            "need only their own network, named volumes and no extra capability."
        )


_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN")
_URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Values that are no secret whatever the name: switches and counts (OIDC_USE_REFRESH_TOKEN=False).
_NOT_SECRET_VALUE = re.compile(r"^(true|false|yes|no|on|off|\d{1,5})$", re.IGNORECASE)


def looks_secret(name: str, value: str) -> bool:
    """A URL with a password, or a secret-sounding name whose value is no switch, count or URL.

    Secret-sounding: PASSWORD, PASSWD, SECRET or TOKEN in a word of the name, or a word ending in
    KEY (SECRET_KEY, API_KEY, APIKEY; not KEYCLOAK_URL).
    """
    if _URL_WITH_PASSWORD.match(value):
        return True
    if _NOT_SECRET_VALUE.match(value.strip()) or _URL.match(value):
        return False
    words = [word for word in re.split(r"[^A-Z0-9]+", name.upper()) if word]
    if any(marker in word for word in words for marker in _SECRET_WORDS):
        return True
    return any(word.endswith("KEY") for word in words)


PLAINTEXT_NAMES = names_option(
    "plaintextEnvNames", "Env names that look secret but are not (e.g. a token endpoint URL)."
)


@rule("container-secrets-not-plaintext", CONTAINER, config=PLAINTEXT_NAMES)
def secrets_not_plaintext(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Container envs whose name looks secret (PASSWORD, SECRET, TOKEN, ...KEY) or whose value is a
    URL with a password are marked secret (the entry or the whole envs list).
    """
    entries = env_entries(resource.props)
    if is_unknown(entries) or not entries:
        return
    marked = secret_paths(resource.props)
    if marked is None:
        yield (
            "Cannot tell which envs are secret: the policy pack runs without its secret-marker "
            "shim. Fix: start the pack from policy/__main__.py, which installs it."
        )
        return
    if "envs" in marked:
        return
    plaintext_ok = set(config.get("plaintextEnvNames") or [])
    for entry in entries:
        # An unknown value loses its secret mark in a preview (the SDK sends unknown alone):
        # it is judged at `up`, when it is known.
        if is_unknown(entry.value) or f"envs[{entry.index}]" in marked:
            continue
        if (
            entry.name in plaintext_ok
            or not entry.value
            or not looks_secret(entry.name, entry.value)
        ):
            continue
        yield (
            f"Env {entry.name} (envs[{entry.index}]) looks like a secret but is passed in plain "
            "text, so it is stored unencrypted in the stack state and shown in diffs. Fix: build "
            "it from a secret Output (pulumi_random.RandomPassword(...).result, "
            "config.require_secret(...)) or wrap the whole list in pulumi.Output.secret(envs); "
            "if it is not a secret, add the name to this policy's `plaintextEnvNames`."
        )
