"""What an upgrade of a deployed stack may and may not do to it, judged from the engine's
events of a `pulumi preview` or `pulumi up`."""

from __future__ import annotations

from pulumi import automation as auto

# Where the data lives: an upgrade must replace or delete none of these.
DATA_TYPES = (
    "docker:index/volume:Volume",
    "postgresql:index/database:Database",
    "keycloak:index/realm:Realm",
)
DROPPING_OPS = {"replace", "create-replacement", "delete-replaced", "delete", "discard"}


def dropping_steps(events: list[auto.EngineEvent]) -> list[tuple[str, str, str]]:
    """(operation, type, urn) of every step that replaces or deletes a resource."""
    steps: list[tuple[str, str, str]] = []
    for event in events:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.op.value in DROPPING_OPS:
            steps.append((str(pre.metadata.op.value), pre.metadata.type, pre.metadata.urn))
    return steps


def dropped_data(steps: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [step for step in steps if step[1] in DATA_TYPES]
