"""Who may use MLflow: people, teams and the MLflow permissions granted to them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from stackconfig.base import ConfigModel
from stackconfig.types import Email, Name, Username
from stackrules.mlflow_permissions import (
    Level,
    ResourceKind,
    SubjectKind,
    exact_name_pattern,
    pattern_problem,
)


class UserSpec(ConfigModel):
    """A person who may sign in to MLflow."""

    username: Username
    email: Email
    # Required: Keycloak's user profile would otherwise stop the first sign-in to ask for them.
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    groups: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    """Teams (names from `teams`) the person belongs to; any team admits them to MLflow."""
    enabled: bool = True
    """false: the person is locked out (Keycloak user disabled, MLflow account deactivated,
    their sessions and tokens ended) but kept, e.g. after `stackctl users disable`."""


class TeamSpec(ConfigModel):
    """A team: a Keycloak group whose name the `groups` claim carries, the subject of
    `permissions` entries."""

    name: Name
    description: str = ""


class PermissionSpec(ConfigModel):
    """One MLflow permission: a team or a user, a kind of resource, a name or pattern, a level."""

    team: str | None = None
    user: str | None = None
    """A configured person's username (instead of team)."""
    resource: ResourceKind
    name: str | None = None
    """One exact resource name (it need not exist yet)."""
    pattern: str | None = None
    """A Python regular expression matched at the start of names (`^ds-`), as the plugin does."""
    level: Level
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 100
    """Where patterns of one person overlap, the lowest priority number decides."""

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        problem = None if value is None else pattern_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_of_each(self) -> PermissionSpec:
        if (self.team is None) == (self.user is None):
            raise ValueError("set exactly one of team and user")
        if (self.name is None) == (self.pattern is None):
            raise ValueError("set exactly one of name (exact) and pattern (regular expression)")
        return self

    @property
    def subject_kind(self) -> SubjectKind:
        return "group" if self.team is not None else "user"

    @property
    def subject(self) -> str:
        return self.team if self.team is not None else str(self.user)

    @property
    def regex(self) -> str:
        """The plugin's selector of this entry."""
        return exact_name_pattern(self.name) if self.name is not None else str(self.pattern)

    @property
    def key(self) -> str:
        """What identifies the entry (two entries with one key would fight over one grant)."""
        return f"{self.subject_kind}:{self.subject}:{self.resource}:{self.regex}"
