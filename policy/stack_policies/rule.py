"""What a rule is: a name, what it protects, which resources it reads, and a pure check."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackrules.names import config_key

__all__ = ["Check", "Resource", "Rule", "config_key", "names_option", "rule"]


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


def names_option(key: str, description: str) -> dict[str, Mapping[str, Any]]:
    """A rule's config: one property ``key`` listing names (addresses, ids), empty by default."""
    return {
        key: {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": description,
        }
    }


def rule(
    name: str, *resource_types: str, config: Mapping[str, Mapping[str, Any]] | None = None
) -> Callable[[Check], Rule]:
    """Makes the decorated check a Rule; its docstring is the rule's description."""

    def make(check: Check) -> Rule:
        return Rule(
            name=name,
            description=inspect.cleandoc(check.__doc__ or ""),
            resource_types=frozenset(resource_types),
            check=check,
            config=config or {},
        )

    return make
