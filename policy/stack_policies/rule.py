"""What a rule is: a name, what it protects, which resources it reads, and a pure check."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackrules.names import config_key

__all__ = ["Check", "Resource", "Rule", "config_key", "names_option"]


@dataclass(frozen=True)
class Resource:
    """A resource as a rule sees it: its type token and its properties as plain values."""

    type: str
    props: Mapping[str, Any]
    name: str = ""


Check = Callable[[Resource, Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    """One policy: ``check(resource, config)`` yields one message per violation, each with a fix.

    ``config`` holds the JSON schema of each policy config property; a ``default`` there is
    what the check gets when the pack config does not set the property.
    """

    name: str
    description: str
    resource_types: frozenset[str]
    check: Check
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def settings(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        defaults = {key: spec["default"] for key, spec in self.config.items() if "default" in spec}
        return {**defaults, **dict(given or {})}

    def violations(
        self, resource: Resource, given_config: Mapping[str, Any] | None = None
    ) -> list[str]:
        if resource.type not in self.resource_types:
            return []
        return list(self.check(resource, self.settings(given_config)))


def names_option(description: str) -> dict[str, Any]:
    """The schema of a policy config property listing names (addresses, ids); empty by default."""
    return {"type": "array", "items": {"type": "string"}, "default": [], "description": description}
