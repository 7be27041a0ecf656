"""`stackctl users`: who the realm holds, emergency lock-outs and their undoing, offboarding
who left, and temporary passwords nobody used."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from stackctl import offboarding, realm, views
from stackctl.errors import StackctlError
from stackctl.options import (
    Json,
    Yes,
    confirm,
    confirmed_or_told,
    console,
    on_the_realm,
    print_json,
)
from stackrules.mlflow_admin import AccountError, account_active, set_account_active

users_app = typer.Typer(
    help="List people, lock them out in an emergency, let them in, offboard who left.",
    no_args_is_help=True,
)


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: Json = False) -> None:
    """Everyone in the realm: enabled or not, groups, where they come from (the stack's
    config, a directory, an identity provider), and their MLflow account.

    Example: stackctl users list --json | jq '.[] | select(.enabled | not) | .username'"""
    with on_the_realm(ctx) as (outputs, admin):
        people = views.people_rows(realm.people(admin))
        with outputs.mlflow_admin().session() as api:
            for person in people:
                active = account_active(api, person["email"]) if person["email"] else None
                person["mlflowAccount"] = {None: "none", True: "active", False: "inactive"}[active]
    if as_json:
        print_json(people)
        return
    console.print(views.people_table(people, f"{len(people)} people in realm {outputs.realm!r}"))


@users_app.command("disable")
def users_disable(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The person to lock out.")],
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Lock USERNAME out now: Keycloak user disabled and logged out; MLflow account deactivated
    (its sessions ended, its access tokens deleted). Then set `enabled: false` on the user in
    the stack config: `pulumi up --refresh` would enable them again.

    Example: stackctl users disable lena --yes"""
    confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        mlflow_admin = outputs.mlflow_admin()  # first: an older stack has none, change nothing
        if not yes:
            confirm(f"Lock {username!r} out of realm {outputs.realm!r} and MLflow?")
        disabled = realm.disable_user(admin, username)
        if not as_json:
            typer.echo(f"{username}: Keycloak user disabled, {disabled.sessions} session(s) ended")
        if disabled.email is None:
            raise StackctlError(
                f"{username} has no email, which is how mlflow-oidc-auth names its users; "
                "deactivate their MLflow account in the plugin's admin UI"
            )
        with mlflow_admin.session() as api:
            changed = set_account_active(api, disabled.email, False)
    if as_json:
        print_json(
            {
                "username": username,
                "keycloakUser": "disabled",
                "sessionsEnded": disabled.sessions,
                "mlflowAccount": disabled.email,
                "mlflowAccountChanged": changed,
            }
        )
        return
    state = "deactivated" if changed else "was already inactive"
    typer.echo(
        f"{username}: MLflow account {disabled.email} {state}; its sessions and access "
        "tokens are gone"
    )
    typer.echo(
        f"next: set enabled: false for {username} under users in Pulumi.<stack>.yaml, so "
        f"`pulumi up --refresh` keeps them out (or undo: stackctl users enable {username})"
    )


@users_app.command("enable")
def users_enable(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The person to let back in.")],
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Undo `users disable`: Keycloak user enabled, MLflow account active again (the old
    access tokens stay deleted; they sign in and mint new ones).

    Example: stackctl users enable lena --yes"""
    confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        mlflow_admin = outputs.mlflow_admin()
        if not yes:
            confirm(f"Let {username!r} into realm {outputs.realm!r} and MLflow?")
        email = realm.enable_user(admin, username)
        changed = None
        if email is not None:
            with mlflow_admin.session() as api:
                changed = set_account_active(api, email, True)
    if as_json:
        print_json(
            {
                "username": username,
                "keycloakUser": "enabled",
                "mlflowAccount": email,
                "mlflowAccountChanged": changed,
            }
        )
        return
    typer.echo(f"{username}: Keycloak user enabled")
    if email is not None:
        typer.echo(f"{username}: MLflow account {email} {'re-activated' if changed else 'active'}")


@users_app.command("reconcile")
def users_reconcile(
    ctx: typer.Context,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Offboard every MLflow account whose person may no longer sign in: deleted from Keycloak
    or the directory, disabled, with no way in left, or in none of MLflow's groups (account
    deactivated: tokens deleted, sessions ended; Keycloak logout). Someone who only left a
    group has their tokens and sessions ended.

    Example (a cron line): stackctl --stack prod users reconcile --yes --json"""
    confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        mlflow_admin = outputs.mlflow_admin()
        groups = outputs.admitted_groups()  # both checked before anything is asked of MLflow
        with mlflow_admin.session() as api:
            found = offboarding.departures(admin, api, groups)
            rows = [dataclasses.asdict(departure) for departure in found]
            if found and not yes:
                console.print(views.departures_table(rows))
                confirm(f"Offboard these {len(found)} account(s)?")
            failed: dict[str, str] = {}
            for departure in found:
                try:
                    offboarding.offboard(admin, api, departure)
                except AccountError as refused:  # the others are still offboarded
                    failed[departure.account] = str(refused)
    if as_json:
        print_json([{**row, "error": failed.get(str(row["account"]))} for row in rows])
    elif not found:
        typer.echo("every active MLflow account belongs to someone who may sign in")
    for departure in [] if as_json else found:
        done = "deactivated" if departure.deactivate else "tokens and sessions ended"
        if departure.account not in failed:
            typer.echo(f"{departure.account}: {departure.reason}; {done}, logged out of Keycloak")
    for account, why in failed.items():
        typer.echo(f"error: {account} not offboarded: {why}", err=True)
    if failed:
        raise typer.Exit(1)


@users_app.command("stale")
def users_stale(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=0, help="Created at least this many days ago.")
    ],
    expire: Annotated[
        bool, typer.Option("--expire", help="Delete their unused temporary passwords.")
    ] = False,
    user: Annotated[str | None, typer.Option("--user", help="Only this person.")] = None,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """People who never replaced the temporary password the stack gave them, created at least
    --days ago: nobody has signed in as them, and anyone reading the stack's outputs could.
    --expire deletes those passwords (they leave `userInitialPasswords` at the next up); an
    admin gives a new one when the person asks.

    Example (a cron line): stackctl users stale --days 14 --expire --yes"""
    if expire:
        confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        stale = realm.unused_initial_passwords(admin, days, user)
        rows = [
            {"username": u["username"], "created": views.utc(u.get("createdTimestamp"))}
            for u in stale
        ]
        title = f"Unused initial passwords in {outputs.realm!r}"
        if expire and stale and not yes:
            console.print(views.stale_table(rows, title))
            confirm(f"Delete these {len(stale)} temporary password(s)?")
        for found in stale if expire else []:
            realm.expire_initial_password(admin, found)
    rows = [{**row, "expired": expire} for row in rows]
    if as_json:
        print_json(rows)
    elif not stale:
        typer.echo(f"no temporary password older than {days} day(s) is unused")
    elif expire:
        for row in rows:
            typer.echo(f"{row['username']}: unused temporary password deleted")
    else:
        console.print(views.stale_table(rows, title))
