"""What every stackctl command shares: the root options naming the stack, the common options
(--yes, --json), the one error path, confirmations and the exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from keycloak import KeycloakAdmin
from rich.console import Console

from stackctl import realm, views
from stackctl.errors import StackctlError
from stackctl.outputs import (
    StackOutputs,
    load_outputs_file,
    load_stack_outputs,
    pulumi_stack,
    selected_stack,
)
from stackrules.mlflow_admin import AccountError

if TYPE_CHECKING:
    from pulumi import automation as auto

# Exit codes (docs/stackctl.md): 0 done, 1 failed (the one-line error says how to fix it),
# 2 usage (a bad option, or no terminal to confirm on), 3 declined at the confirmation
# (nothing was changed).
FAILED = 1
USAGE = 2
DECLINED = 3

console = Console()

Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Json = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of a table or lines (also: -o json).")
]


@contextmanager
def failures_reported() -> Iterator[None]:
    """A StackctlError becomes its one line on stderr and exit code 1."""
    try:
        yield
    except (StackctlError, AccountError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(FAILED) from None


@dataclass
class Target:
    """The stack every command works on: the root options (given anywhere on the line)."""

    given_stack: str | None
    outputs_file: Path | None
    project_dir: Path

    @cached_property
    def stack(self) -> str:
        """--stack, else the Pulumi stack selected in the project (as `pulumi` picks it; asked
        once per command)."""
        if self.given_stack is not None:
            return self.given_stack
        if self.outputs_file is not None:
            return self.outputs_file.stem
        return selected_stack(self.project_dir)

    def outputs(self) -> StackOutputs:
        if self.outputs_file is not None:
            return load_outputs_file(self.outputs_file, self.stack)
        return load_stack_outputs(self.stack, project_dir=self.project_dir)

    def pulumi_stack(self, command: str) -> AbstractContextManager[auto.Stack]:
        """The stack itself, for commands that read or write its state."""
        if self.outputs_file is not None:
            raise StackctlError(
                f"{command} works on the stack's Pulumi state, which --outputs-file does not "
                "give; run it where `pulumi` reaches the stack"
            )
        return pulumi_stack(self.stack, project_dir=self.project_dir)


def target_of(ctx: typer.Context) -> Target:
    found = ctx.find_object(Target)
    assert found is not None, "the root callback sets the target"
    return found


@contextmanager
def on_the_realm(ctx: typer.Context) -> Iterator[tuple[StackOutputs, KeycloakAdmin]]:
    """The stack's outputs and an admin client of its realm; the one error path: whatever
    goes wrong (outputs, Keycloak) is one line on stderr and exit code 1."""
    with failures_reported():
        outputs = target_of(ctx).outputs()
        with realm.keycloak_errors(outputs):
            yield outputs, realm.connect(outputs)


def print_json(value: object) -> None:
    typer.echo(views.to_json(value))


def confirmed_or_told(yes: bool) -> None:
    """No confirmation possible without a terminal: say to pass --yes (exit 2)."""
    if not yes and not sys.stdin.isatty():
        typer.echo(
            "error: no terminal to confirm on; pass --yes to go ahead without asking", err=True
        )
        raise typer.Exit(USAGE)


def confirm(question: str) -> None:
    """Ask; "no" ends the command with exit code 3 (declined: nothing changed)."""
    if not typer.confirm(question):
        typer.echo("declined: nothing was changed", err=True)
        raise typer.Exit(DECLINED)
