"""Tell resource validations which properties the engine sent as secrets.

The engine sends a policy pack every property with its secret marker (pulumi 3.259.0,
``analyzer_plugin.go``: ``KeepSecrets: true``), but pulumi-policy 1.21.0 for Python drops the
marker before a validation sees the value (``Analyze`` calls ``deserialize_properties``
without ``proxy_secrets``), so a policy cannot tell a secret from plain text
(pulumi/pulumi-policy#241). This shim wraps that one call: it leaves the values as the SDK
makes them and adds the list of secret paths under ``SECRET_PATHS_KEY``. The engine strips
keys that start with ``__`` from resource properties, so the key cannot clash with a real one.

Tested end to end through the SDK's own ``Analyze`` in ``tests/test_secret_markers.py``, which
fails if an SDK upgrade moves the call.
"""

from __future__ import annotations

from typing import Any

import pulumi_policy.policy as _sdk_policy
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

SECRET_PATHS_KEY = "__secretPaths"

_original_deserialize = _sdk_policy.deserialize_properties  # type: ignore[attr-defined]


def find_secret_paths(value: Any, path: str = "") -> list[str]:
    """Paths of the secret-marked values in wire-format (JSON) properties, outermost first."""
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            return [path, *find_secret_paths(value.get("value"), path)]
        found: list[str] = []
        for key, item in value.items():
            found += find_secret_paths(item, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(value, list):
        found = []
        for index, item in enumerate(value):
            found += find_secret_paths(item, f"{path}[{index}]")
        return found
    return []


def _deserialize_with_secret_paths(props: dict[str, Any], proxy_secrets: bool = False) -> Any:
    result = _original_deserialize(props, proxy_secrets)
    if not proxy_secrets:
        # Remediations (proxy_secrets=True) keep the markers themselves; only validations need this.
        result[SECRET_PATHS_KEY] = find_secret_paths(props)
    return result


def install() -> None:
    """Make the SDK's validations see ``SECRET_PATHS_KEY``; idempotent."""
    if not hasattr(_sdk_policy, "deserialize_properties"):
        raise RuntimeError(
            "pulumi_policy.policy.deserialize_properties is gone: this pulumi-policy version is "
            "not the one the secret-marker shim was written for; re-check secret_markers.py"
        )
    _sdk_policy.deserialize_properties = _deserialize_with_secret_paths
