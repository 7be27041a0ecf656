"""Resource properties as plain values, and the container env list as name/value pairs.

pulumi-policy hands a validation read-only proxies that raise ``UnknownValueError`` when a
value is computed (unknown until the resource exists). A rule would then be skipped as a
whole; converting once to plain values with an ``UNKNOWN`` marker lets each rule decide what
it can still judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import proxy as _sdk_proxy
from pulumi_policy.proxy import UnknownValueError

from stackrules.names import ENV_NAMES_LABEL

from .secret_markers import SECRET_PATHS_KEY


class _Unknown:
    """A value the engine only learns when the resource is created (preview of a computed value)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

# The engine's sentinel strings for computed values (reached when props bypass the SDK's proxy).
_UNKNOWN_SENTINELS = frozenset(
    {
        _sdk_proxy.UNKNOWN_BOOLEAN_VALUE,
        _sdk_proxy.UNKNOWN_NUMBER_VALUE,
        _sdk_proxy.UNKNOWN_STRING_VALUE,
        _sdk_proxy.UNKNOWN_ARRAY_VALUE,
        _sdk_proxy.UNKNOWN_ASSET_VALUE,
        _sdk_proxy.UNKNOWN_ARCHIVE_VALUE,
        _sdk_proxy.UNKNOWN_OBJECT_VALUE,
    }
)


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def _read(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    """A deep copy of ``value`` in dicts, lists and scalars, unknowns replaced by ``UNKNOWN``."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {key: plain(_read(value, key)) for key in value}
    if isinstance(value, Sequence):
        return [plain(_read(value, index)) for index in range(len(value))]
    return value


def nested(props: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path`` (``"securityDefenses", "bruteForceDetection"``): None when a level
    is absent, UNKNOWN when a level is unknown."""
    value: Any = props
    for key in path:
        if is_unknown(value):
            return UNKNOWN
        value = (value or {}).get(key)
    return value


def secret_paths(props: Mapping[str, Any]) -> frozenset[str] | None:
    """Paths ("envs", "envs[2]") the engine marked secret, or None if the marker shim is off."""
    paths = props.get(SECRET_PATHS_KEY)
    if paths is None or is_unknown(paths):
        return None
    return frozenset(paths)


@dataclass(frozen=True)
class EnvEntry:
    """One ``NAME=value`` of a container's ``envs``; ``name`` is UNKNOWN if the entry is."""

    index: int
    name: Any
    value: Any


def declared_env_names(props: Mapping[str, Any]) -> list[str] | None:
    """The env names the container's ENV_NAMES_LABEL lists in order, None without the label."""
    for item in known_items(props.get("labels")):
        if isinstance(item, Mapping) and item.get("label") == ENV_NAMES_LABEL:
            value = item.get("value")
            if isinstance(value, str):
                return value.split(",") if value else []
    return None


def env_entries(props: Mapping[str, Any]) -> list[EnvEntry] | Any:
    """The container's env entries, ``[]`` when it has none, UNKNOWN when the list is unknown.
    An entry unknown in a preview is named by the container's ENV_NAMES_LABEL when that lists
    one name per entry (its value stays UNKNOWN), else its name is UNKNOWN too."""
    envs = props.get("envs")
    if envs is None:
        return []
    if is_unknown(envs):
        return UNKNOWN
    declared = declared_env_names(props)
    if declared is not None and len(declared) != len(envs):
        declared = None
    entries = []
    for index, item in enumerate(envs):
        if is_unknown(item):
            entries.append(EnvEntry(index, declared[index] if declared else UNKNOWN, UNKNOWN))
            continue
        name, _, value = str(item).partition("=")
        entries.append(EnvEntry(index, name, value))
    return entries


def env_value(entries: list[EnvEntry], name: str) -> Any:
    """The value of env ``name``: None if absent, UNKNOWN if absent but some entry is unknown."""
    for entry in entries:
        if entry.name == name:
            return entry.value
    if any(is_unknown(entry.name) for entry in entries):
        return UNKNOWN
    return None


def string_list(value: Any) -> list[Any]:
    """A list property that may be absent (None) as a list; elements may be UNKNOWN."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def known_items(value: Any) -> list[Any]:
    """The known elements of a list property; none when it is absent or unknown."""
    if is_unknown(value):
        return []
    return [item for item in string_list(value) if not is_unknown(item)]
