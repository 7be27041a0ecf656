"""The fields the `restricted` Pod Security Standard asks of every pod and container, which the
stack's namespace enforces (wiring/on_kubernetes.py NAMESPACE_LABELS): one home, so a workload
that lacks them is one that does not use these."""

from __future__ import annotations

from typing import Any

RESTRICTED_POD: dict[str, Any] = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
