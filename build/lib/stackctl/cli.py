"""The typer layer: arguments in, tables or JSON out. Keycloak work lives in stackctl.realm.

Exit codes: 0 done, 1 failed (the one-line error says how to fix it), 2 usage.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from keycloak import KeycloakAdmin
from rich.console import Console
from rich.table import Table

from stackctl import backup as backups
from stackctl import backup_key, offboarding, realm, state_graft, views
from stackctl.automation import automation_token
from stackctl.errors import StackctlError
from stackctl.health import keycloak_health, mlflow_health
from stackctl.outputs import (
    PROJECT_DIR,
    StackOutputs,
    load_outputs_file,
    load_stack_outputs,
    pulumi_stack,
    stack_outputs,
)
from stackrules.durations import format_duration, parse_duration
from stackrules.mlflow_admin import AccountError, set_account_active

# Every command that changes something asks first, unless told not to.
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

if TYPE_CHECKING:
    from pulumi import automation as auto

# Tracebacks with locals would print the admin password; a bug gets a plain traceback.
app = typer.Typer(
    name="stackctl",
    help="Operate a deployed MLflow + Keycloak stack: status, sessions, audit trail, tokens.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sessions_app = typer.Typer(help="List and revoke users' Keycloak sessions.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
users_app = typer.Typer(
    help="Lock people out in an emergency, let them in, offboard who left.", no_args_is_help=True
)
app.add_typer(users_app, name="users")

console = Console()

Stack = Annotated[
    str,
    typer.Option(
        "--stack", "-s", envvar="STACKCTL_STACK", help="Pulumi stack whose outputs to use."
    ),
]
OutputsFile = Annotated[
    Path | None,
    typer.Option(
        "--outputs-file",
        envvar="STACKCTL_OUTPUTS_FILE",
        dir_okay=False,
        help="JSON of `pulumi stack output --json --show-secrets`, instead of asking Pulumi.",
    ),
]
ProjectDir = Annotated[
    Path,
    typer.Option(
        "--project-dir",
        envvar="STACKCTL_PROJECT_DIR",
        file_okay=False,
        help="The Pulumi project (Pulumi.yaml, Pulumi.<stack>.yaml) the stack belongs to.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Max = Annotated[int, typer.Option("--max", min=1, max=1000, help="Newest N at most.")]


def _seconds(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


Since = Annotated[
    int | None,
    typer.Option(
        "--since",
        parser=_seconds,
        metavar="DURATION",
        help="Only this recent, e.g. 90s, 15m, 1h, 7d.",
    ),
]


@contextmanager
def failures_reported() -> Iterator[None]:
    """A StackctlError becomes its one line on stderr and exit code 1."""
    try:
        yield
    except (StackctlError, AccountError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@dataclass(frozen=True)
class Target:
    """The stack every command works on: the root options, given before the command."""

    stack: str
    outputs_file: Path | None
    project_dir: Path

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


@app.callback()
def target(
    ctx: typer.Context,
    stack: Stack = "dev",
    outputs_file: OutputsFile = None,
    project_dir: ProjectDir = PROJECT_DIR,
) -> None:
    """Operate a deployed MLflow + Keycloak stack: status, sessions, audit trail, tokens,
    backups."""
    ctx.obj = Target(stack, outputs_file, project_dir)


def _target(ctx: typer.Context) -> Target:
    found = ctx.find_object(Target)
    assert found is not None, "the root callback sets the target"
    return found


@contextmanager
def on_the_realm(ctx: typer.Context) -> Iterator[tuple[StackOutputs, KeycloakAdmin]]:
    """The stack's outputs and an admin client of its realm; the one error path: whatever
    goes wrong (outputs, Keycloak) is one line on stderr and exit code 1."""
    with failures_reported():
        outputs = _target(ctx).outputs()
        with realm.keycloak_errors(outputs):
            yield outputs, realm.connect(outputs)


def _print_json(value: object) -> None:
    typer.echo(views.to_json(value))


# -- status ---------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context, as_json: Json = False) -> None:
    """Each service's URL and health, and the realm's token policy as deployed."""
    with failures_reported():
        outputs = _target(ctx).outputs()
        services = [keycloak_health(outputs).as_dict(), mlflow_health(outputs).as_dict()]
        policy: list[views.Row] = []
        problem = None
        try:
            with realm.keycloak_errors(outputs):
                policy = views.policy_rows(
                    realm.realm_settings(realm.connect(outputs), outputs.realm)
                )
        except StackctlError as error:
            problem = str(error)
    healthy = all(service["healthy"] for service in services) and problem is None
    if as_json:
        _print_json(
            {"realm": outputs.realm, "healthy": healthy, "services": services, "policy": policy}
        )
    else:
        console.print(views.services_table(services))
        if policy:
            console.print(views.policy_table(policy, f"Token policy of realm {outputs.realm!r}"))
    if problem:
        typer.echo(f"error: token policy unavailable: {problem}", err=True)
    if not healthy:
        raise typer.Exit(1)


# -- sessions -------------------------------------------------------------------------------


@sessions_app.command("list")
def sessions_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's.")] = None,
    client: Annotated[
        str | None, typer.Option("--client", "-c", help="Only sessions in this client id.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Active sessions: user, IP, started, last access, clients (all users' by default)."""
    with on_the_realm(ctx) as (outputs, admin):
        sessions = realm.list_sessions(admin, user, client)
    rows = views.session_rows(sessions)
    if as_json:
        _print_json(rows)
        return
    scope = " and ".join(
        part
        for part in (f"user {user!r}" if user else "", f"client {client!r}" if client else "")
        if part
    )
    title = f"{len(rows)} active session(s) in realm {outputs.realm!r}"
    console.print(views.sessions_table(rows, f"{title} of {scope}" if scope else title))


def _describe(plan: realm.Revocation) -> str:
    counts = plan.counts()
    if plan.scope == "session":
        return f"session {plan.sessions[0]['id']} of {plan.sessions[0].get('username')}"
    users = ", ".join(f"{name} ({count})" for name, count in counts.items())
    return f"{len(plan.sessions)} session(s) of {len(counts)} user(s): {users}"


@sessions_app.command("revoke")
def sessions_revoke(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Log this user out everywhere.")
    ] = None,
    session: Annotated[str | None, typer.Option("--session", help="End this session id.")] = None,
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Log every user with a session out.")
    ] = False,
    yes: Yes = False,
) -> None:
    """End sessions: their refresh tokens stop working at once; access tokens run out."""
    if sum((user is not None, session is not None, all_users)) != 1:
        raise typer.BadParameter(
            "give exactly one of --user, --session, --all-users",
            param_hint="'--user' / '--session' / '--all-users'",
        )
    _confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        if user is not None:
            plan = realm.plan_user_revocation(admin, user)
        elif session is not None:
            plan = realm.plan_session_revocation(admin, session)
        else:
            plan = realm.plan_all_users_revocation(admin)
        if plan.scope == "all-users" and not plan.sessions:
            typer.echo(f"no active sessions in realm {outputs.realm!r}; nothing revoked")
            return
        if not yes:
            typer.confirm(f"Revoke {_describe(plan)} in realm {outputs.realm!r}?", abort=True)
        realm.revoke(admin, plan)
    if plan.scope == "session":
        typer.echo(f"revoked {_describe(plan)}")
        return
    for name, count in plan.counts().items():
        typer.echo(f"revoked {count} session(s) of {name}")


# -- users ----------------------------------------------------------------------------------


def _confirmed_or_told(yes: bool) -> None:
    """No confirmation possible without a terminal: say to pass --yes (exit 2)."""
    if not yes and not sys.stdin.isatty():
        typer.echo(
            "error: no terminal to confirm on; pass --yes to go ahead without asking", err=True
        )
        raise typer.Exit(2)


@users_app.command("disable")
def users_disable(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The person to lock out.")],
    yes: Yes = False,
) -> None:
    """Lock USERNAME out now: Keycloak user disabled and logged out; MLflow account deactivated
    (its sessions ended, its access tokens deleted). Then set `enabled: false` on the user in
    the stack config: `pulumi up --refresh` would enable them again."""
    _confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        mlflow_admin = outputs.mlflow_admin()  # first: an older stack has none, change nothing
        if not yes:
            typer.confirm(
                f"Lock {username!r} out of realm {outputs.realm!r} and MLflow?", abort=True
            )
        disabled = realm.disable_user(admin, username)
        typer.echo(f"{username}: Keycloak user disabled, {disabled.sessions} session(s) ended")
        if disabled.email is None:
            raise StackctlError(
                f"{username} has no email, which is how mlflow-oidc-auth names its users; "
                "deactivate their MLflow account in the plugin's admin UI"
            )
        with mlflow_admin.session() as api:
            changed = set_account_active(api, disabled.email, False)
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
) -> None:
    """Undo `users disable`: Keycloak user enabled, MLflow account active again (the old
    access tokens stay deleted; they sign in and mint new ones)."""
    _confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        mlflow_admin = outputs.mlflow_admin()
        if not yes:
            typer.confirm(f"Let {username!r} into realm {outputs.realm!r} and MLflow?", abort=True)
        email = realm.enable_user(admin, username)
        typer.echo(f"{username}: Keycloak user enabled")
        if email is None:
            return
        with mlflow_admin.session() as api:
            changed = set_account_active(api, email, True)
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
    group has their tokens and sessions ended. For a cron: --yes, and --json for the log."""
    _confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        mlflow_admin = outputs.mlflow_admin()
        if outputs.mlflow_groups is None:
            raise StackctlError(
                "the stack has no mlflowGroups output (deployed by an older version); run "
                "`pulumi up` once, then export the outputs again"
            )
        with mlflow_admin.session() as api:
            found = offboarding.departures(admin, api, outputs.mlflow_groups)
            rows = [dataclasses.asdict(departure) for departure in found]
            if found and not yes:
                console.print(views.departures_table(rows))
                typer.confirm(f"Offboard these {len(found)} account(s)?", abort=True)
            failed: dict[str, str] = {}
            for departure in found:
                try:
                    offboarding.offboard(admin, api, departure)
                except AccountError as refused:  # the others are still offboarded
                    failed[departure.account] = str(refused)
    if as_json:
        _print_json([{**row, "error": failed.get(str(row["account"]))} for row in rows])
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
    admin gives a new one when the person asks. For a cron: --days 14 --expire --yes."""
    if expire:
        _confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        stale = realm.unused_initial_passwords(admin, days, user)
        rows = [
            {"username": u["username"], "created": views.utc(u.get("createdTimestamp"))}
            for u in stale
        ]
        if expire and stale and not yes:
            console.print(views.stale_table(rows, f"Unused initial passwords in {outputs.realm!r}"))
            typer.confirm(f"Delete these {len(stale)} temporary password(s)?", abort=True)
        for found in stale if expire else []:
            realm.expire_initial_password(admin, found)
    rows = [{**row, "expired": expire} for row in rows]
    if as_json:
        _print_json(rows)
        return
    if not stale:
        typer.echo(f"no temporary password older than {days} day(s) is unused")
    elif expire:
        for row in rows:
            typer.echo(f"{row['username']}: unused temporary password deleted")
    else:
        console.print(views.stale_table(rows, f"Unused initial passwords in {outputs.realm!r}"))


# -- audit trail ----------------------------------------------------------------------------


def _names(outputs: StackOutputs, admin: KeycloakAdmin, ids: set[str]) -> dict[str, str]:
    """Usernames for ids the events leave bare. stackctl's own account sees its realm only;
    the bootstrap admin also looks in master, where admins act from."""
    if not ids:
        return {}
    if outputs.stackctl_client_id:
        return realm.usernames([admin], ids)
    return realm.usernames([admin, realm.connect(outputs, "master")], ids)


def _print_events(
    rows: list[views.Row],
    kind: str,
    since: int | None,
    limit: int,
    table: Callable[[Sequence[views.Row], str], Table],
    as_json: bool,
) -> None:
    if as_json:
        _print_json(rows)
        return
    window = f" in the last {format_duration(since)}" if since is not None else ""
    console.print(
        table(rows, f"{len(rows)} {kind} event(s){window}, newest first (at most {limit})")
    )


@app.command()
def events(
    ctx: typer.Context,
    event_type: Annotated[
        str | None, typer.Option("--type", "-t", help="e.g. LOGIN, LOGOUT, LOGIN_ERROR.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's.")] = None,
    since: Since = None,
    limit: Max = 50,
    as_json: Json = False,
) -> None:
    """Login events (sign-ins, failures, logouts, token refreshes), newest first."""
    with on_the_realm(ctx) as (outputs, admin):
        found = realm.login_events(admin, event_type, user, since, limit)
        names = _names(outputs, admin, realm.event_user_ids(found))
    rows = views.event_rows(found, names)
    _print_events(rows, "login", since, limit, views.events_table, as_json)


@app.command("admin-events")
def admin_events(
    ctx: typer.Context,
    since: Since = None,
    limit: Max = 50,
    as_json: Json = False,
) -> None:
    """Admin events (changes through the Admin API and console, by whom), newest first."""
    with on_the_realm(ctx) as (outputs, admin):
        found = realm.admin_events(admin, since, limit)
        ids = realm.event_user_ids(found) | {
            subject for event in found if (subject := views.resource_user_id(event))
        }
        names = _names(outputs, admin, ids)
    rows = views.admin_event_rows(found, names)
    _print_events(rows, "admin", since, limit, views.admin_events_table, as_json)


# -- token ----------------------------------------------------------------------------------


@app.command()
def token(
    ctx: typer.Context,
    show_secret: Annotated[
        bool, typer.Option("--show-secret", help="Print the token itself.")
    ] = False,
) -> None:
    """Shell lines that give a script MLflow API access through the automation client."""
    with failures_reported():
        outputs = _target(ctx).outputs()
        with realm.keycloak_errors(outputs):
            granted = automation_token(outputs, _target(ctx).stack)
    value = granted.access_token.get_secret_value() if show_secret else "<hidden>"
    expires = views.utc(granted.expires_at * 1000)
    typer.echo(f"export MLFLOW_TRACKING_URI={shlex.quote(outputs.mlflow_url)}")
    typer.echo(f"export MLFLOW_TRACKING_TOKEN={shlex.quote(value)}")
    typer.echo(
        f"# token of client {granted.client_id}, expires {expires} "
        f"(in {format_duration(granted.expires_in)}); run stackctl token again then"
    )
    if not show_secret:
        typer.echo(
            'the token is hidden; to use it: eval "$(stackctl token --show-secret)"', err=True
        )


# -- backup and restore ---------------------------------------------------------------------


KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        dir_okay=False,
        help="The backup key (default: $MKS_BACKUP_KEY_FILE, else "
        "~/.config/mlflow-keycloak-stack/backup-key).",
    ),
]


@app.command()
def backup(
    ctx: typer.Context,
    to: Annotated[Path, typer.Option("--to", file_okay=False, help="A new (or empty) directory.")],
    key_file: KeyFile = None,
) -> None:
    """Copy the stack's databases, artifacts and Keycloak state into a new directory.

    The three databases, the artifacts volume and the Pulumi state of the Keycloak objects,
    each encrypted to the backup key and listed in a manifest signed with it, in a directory
    of mode 700 with files of mode 600. The key is made on the first backup: keep it like the
    stack's passphrase, never beside the backups; restore needs it. Keycloak and MLflow are
    paused for the seconds the copy takes, so it is of one moment: requests wait, none fail.
    """
    target = _target(ctx)
    with failures_reported():
        key, made = backup_key.for_backup(key_file)
        if made:
            typer.echo(
                f"made the backup key {key.path} (key {key.key_id}): keep a copy where you keep "
                "the stack's passphrase, not with the backups; without it no backup restores"
            )
        with target.pulumi_stack("backup") as stack:
            outputs = stack_outputs(stack)
            deployment = stack.export_stack().deployment or {}
        manifest = backups.take_backup(outputs, deployment, target.stack, to, key, typer.echo)
    total = sum(part.bytes for part in manifest.parts)
    typer.echo(
        f"backup of stack {target.stack!r} in {to}: {len(manifest.parts)} parts, {total} bytes, "
        f"writes paused {manifest.writes_paused_seconds:.1f} s"
    )


@app.command()
def restore(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Option("--from", exists=True, file_okay=False, help="A directory `backup` wrote."),
    ],
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Restore even over experiments the stack holds."),
    ] = False,
    policy_config: Annotated[
        Path | None,
        typer.Option(
            "--policy-config",
            exists=True,
            dir_okay=False,
            help="The policy pack's config file (pulumi's --policy-pack-config), if it needs one.",
        ),
    ] = None,
    key_file: KeyFile = None,
    yes: Yes = False,
) -> None:
    """Put a backup back into a freshly created stack with the same config.

    The databases and artifacts are replaced, the Keycloak objects' Pulumi state grafted from
    the backup, then `pulumi up` (with the policy pack beside stackctl, in policy/) rolls their
    secrets out to the containers. The backup (its signature with the backup key, every
    part's checksum) and the stack are checked before anything is changed.
    """
    _confirmed_or_told(yes)
    target = _target(ctx)
    with failures_reported(), target.pulumi_stack("restore") as stack:
        key = backup_key.for_restore(key_file)
        outputs = stack_outputs(stack)
        stores = backups.data_stores(outputs)
        manifest = backups.verify_backup(source, stores, key)
        if manifest.realm != outputs.realm:
            raise StackctlError(
                f"the backup is of realm {manifest.realm!r}, the stack's is {outputs.realm!r}; "
                "restore into a stack with the backup's config"
            )
        exported = stack.export_stack()
        saved_stack, saved = backups.saved_identities(source, manifest, key)
        grafted = state_graft.graft(exported.deployment or {}, saved, saved_stack, stack.name)
        if not overwrite:
            backups.assert_fresh(stores)
        typer.echo(
            f"backup {source} of {manifest.created}: signed with key {key.key_id}, complete, "
            "every checksum matches"
        )
        if not yes:
            typer.confirm(f"Replace stack {target.stack!r}'s data with this backup?", abort=True)
        data_restored = False
        try:
            backups.restore_data(source, manifest, stores, key, typer.echo)
            data_restored = True
            backups.import_state(stack, grafted, exported.version or 3)
            typer.echo("Pulumi state of the Keycloak objects: grafted from the backup")
            backups.start_services(stores, typer.echo)
            typer.echo("pulumi up: the restored secrets go out to the containers")
            # The policy pack judges this update like any other: a backup is data, not a way
            # around the rules. It is the pack of stackctl's own checkout, as scripts/pulumi.sh
            # runs it, whichever --project-dir the stack's program is in.
            policy = str(PROJECT_DIR / "policy")
            stack.up(
                on_output=typer.echo,
                color="never",
                policy_packs=[policy],
                policy_pack_configs=[str(policy_config)] if policy_config else None,
            )
        except StackctlError as error:
            if not data_restored:
                # Some databases may hold the backup's data, others the stack's: serving that
                # mix would let people write into it. Left for the operator to decide.
                raise StackctlError(
                    f"{error}; restore stopped part way, with the data part backup, part not: "
                    f"{', '.join(stores.services)} are left stopped. Fix that, then run "
                    "restore again with --overwrite"
                ) from None
            backups.start_services(stores, typer.echo)  # the data is the backup's, whole
            raise StackctlError(
                f"{error}; restore stopped part way (the data is restored): fix that, then "
                "run restore again with --overwrite"
            ) from None
    typer.echo(f"stack {target.stack!r} restored from {source}")
