"""The Postgres major version a server's data directory was written by, kept in the state.

Postgres cannot open a data directory of another major version: a new major's container would
fail its health check with the service down and the data untouched. `PostgresMajor` (a Pulumi
dynamic resource, checked before the server's image and container) refuses such a change at
`preview` and `up` instead, naming the upgrade path; nothing is replaced.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, ResourceProvider

UPGRADE_PATH = (
    "docs/operations.md, 'Upgrading Postgres' (stackctl backup at the old major, a new stack "
    "at the new one, stackctl restore)"
)


def major_change_problem(config_key: str, written_by: int | None, wanted: int) -> str | None:
    """Why `wanted` cannot run a data directory `written_by` wrote, or None when it can."""
    if written_by is None or written_by == wanted:
        return None
    return (
        f"{config_key}: its data directory was written by Postgres {written_by}, and Postgres "
        f"{wanted} cannot open it (a major-version change). Nothing was changed. Fix: set "
        f"{config_key} back to a {written_by}.x image; to move to {wanted}, follow "
        f"{UPGRADE_PATH}"
    )


class PostgresMajorProvider(ResourceProvider):
    """check refuses a new major over an existing one; the rest keeps the number."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        previous = olds.get("major")
        problem = major_change_problem(
            news["config_key"], None if previous is None else int(previous), int(news["major"])
        )
        return CheckResult(news, [CheckFailure("major", problem)] if problem else [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["config_key"], props)


class PostgresMajor(Resource):
    """The major version `config_key` (the config key of the server's image) runs."""

    def __init__(
        self, name: str, config_key: str, major: int, opts: pulumi.ResourceOptions
    ) -> None:
        super().__init__(
            PostgresMajorProvider(), name, {"config_key": config_key, "major": major}, opts
        )
