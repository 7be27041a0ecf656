"""The typer layer: arguments in, tables or JSON out. Keycloak work lives in stackctl.realm,
what every command shares in stackctl.options, the `users` group in stackctl.users_cli.

Exit codes: 0 done, 1 failed (the one-line error says how to fix it), 2 usage, 3 declined at
the confirmation (nothing changed).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from keycloak import KeycloakAdmin
from rich.table import Table
from typer.core import TyperGroup

from stackctl import backup as backups
from stackctl import backup_key, realm, state_graft, views
from stackctl.automation import automation_token
from stackctl.errors import StackctlError
from stackctl.health import keycloak_health, mlflow_health
from stackctl.options import (
    Json,
    Target,
    Yes,
    confirm,
    confirmed_or_told,
    console,
    failures_reported,
    on_the_realm,
    print_json,
    target_of,
)
from stackctl.outputs import PROJECT_DIR, StackOutputs, stack_outputs
from stackctl.users_cli import users_app
from stackrules.durations import format_duration, parse_duration
from stackrules.mlflow_admin import list_pattern_grants
from stackrules.mlflow_permissions import PATTERN_ROUTES
from stackrules.versions import pinned_versions

# The root options, which kubectl-like use gives anywhere on the line.
ROOT_OPTIONS = ("--stack", "-s", "--outputs-file", "--project-dir")


class AnywhereGroup(TyperGroup):
    """The root group: its options may follow the subcommand (`stackctl status --stack prod`),
    and `-o json` / `--output json` mean `--json`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's vendored click Context
        root: list[str] = []
        rest: list[str] = []
        words = iter(args)
        for word in words:
            name, equals, value = word.partition("=")
            if name in ROOT_OPTIONS:
                root += [word] if equals else [word, next(words, "")]
            elif name in ("-o", "--output"):
                chosen = value if equals else next(words, "")
                if chosen not in ("json", "table"):
                    raise typer.BadParameter(
                        f"takes json or table, not {chosen!r}", param_hint=f"'{name}'"
                    )
                rest += ["--json"] if chosen == "json" else []
            elif word == "--":
                rest += [word, *words]
            else:
                rest.append(word)
        return super().parse_args(ctx, root + rest)


# Tracebacks with locals would print the admin password; a bug gets a plain traceback.
app = typer.Typer(
    name="stackctl",
    cls=AnywhereGroup,
    help="Operate a deployed MLflow + Keycloak stack: status, sessions, audit trail, tokens.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
sessions_app = typer.Typer(help="List and revoke users' Keycloak sessions.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(users_app, name="users")
permissions_app = typer.Typer(
    help="The MLflow grants the plugin holds, by team and person.", no_args_is_help=True
)
app.add_typer(permissions_app, name="permissions")

Stack = Annotated[
    str | None,
    typer.Option(
        "--stack",
        "-s",
        envvar="STACKCTL_STACK",
        help="Pulumi stack whose outputs to use (default: the selected one, as for pulumi).",
        show_default=False,
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
Max = Annotated[int, typer.Option("--max", min=1, max=1000, help="Newest N at most.")]


def _version(shown: bool) -> None:
    if shown:
        pins = pinned_versions()
        typer.echo(
            f"stackctl {metadata.version('mlflow-keycloak-stack')} (Keycloak "
            f"{pins['KEYCLOAK_VERSION']}, MLflow {pins['MLFLOW_VERSION']}, mlflow-oidc-auth "
            f"{pins['MLFLOW_OIDC_AUTH_VERSION']})"
        )
        raise typer.Exit()


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


@app.callback()
def target(
    ctx: typer.Context,
    stack: Stack = None,
    outputs_file: OutputsFile = None,
    project_dir: ProjectDir = PROJECT_DIR,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Operate a deployed MLflow + Keycloak stack: status, sessions, audit trail, tokens,
    backups.

    Examples: stackctl status; stackctl sessions list --user alan; stackctl events --since 1h
    -o json; stackctl --stack prod users reconcile --yes. Exit codes: 0 done, 1 failed, 2 usage,
    3 declined."""
    ctx.obj = Target(stack, outputs_file, project_dir)


# -- status ---------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context, as_json: Json = False) -> None:
    """Each service's URL and health, and the realm's token policy as deployed.

    Example: stackctl status --stack prod -o json"""
    with failures_reported():
        outputs = target_of(ctx).outputs()
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
        print_json(
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
    """Active sessions: user, IP, started, last access, clients (all users' by default).

    Example: stackctl sessions list --user alan"""
    with on_the_realm(ctx) as (outputs, admin):
        sessions = realm.list_sessions(admin, user, client)
    rows = views.session_rows(sessions)
    if as_json:
        print_json(rows)
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
    as_json: Json = False,
) -> None:
    """End sessions: their refresh tokens stop working at once; access tokens run out.

    Example: stackctl sessions revoke --user alan --yes"""
    if sum((user is not None, session is not None, all_users)) != 1:
        raise typer.BadParameter(
            "give exactly one of --user, --session, --all-users",
            param_hint="'--user' / '--session' / '--all-users'",
        )
    confirmed_or_told(yes)
    with on_the_realm(ctx) as (outputs, admin):
        if user is not None:
            plan = realm.plan_user_revocation(admin, user)
        elif session is not None:
            plan = realm.plan_session_revocation(admin, session)
        else:
            plan = realm.plan_all_users_revocation(admin)
        if plan.scope == "all-users" and not plan.sessions:
            if as_json:
                print_json({"revoked": {}})
            else:
                typer.echo(f"no active sessions in realm {outputs.realm!r}; nothing revoked")
            return
        if not yes:
            confirm(f"Revoke {_describe(plan)} in realm {outputs.realm!r}?")
        realm.revoke(admin, plan)
    if as_json:
        print_json({"revoked": plan.counts()})
        return
    if plan.scope == "session":
        typer.echo(f"revoked {_describe(plan)}")
        return
    for name, count in plan.counts().items():
        typer.echo(f"revoked {count} session(s) of {name}")


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
        print_json(rows)
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
    """Login events (sign-ins, failures, logouts, token refreshes), newest first.

    Example: stackctl events --type LOGIN_ERROR --since 1h"""
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
    """Admin events (changes through the Admin API and console, by whom), newest first.

    Example: stackctl admin-events --since 7d --max 200 -o json"""
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
    show_secrets: Annotated[
        bool,
        typer.Option("--show-secrets", "--show-secret", help="Print the token itself."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Shell lines that give a script MLflow API access through the automation client.

    Example: eval "$(stackctl token --show-secrets)" && python train.py"""
    with failures_reported():
        outputs = target_of(ctx).outputs()
        with realm.keycloak_errors(outputs):
            granted = automation_token(outputs, target_of(ctx).stack)
    value = granted.access_token.get_secret_value() if show_secrets else "<hidden>"
    expires = views.utc(granted.expires_at * 1000)
    if as_json:
        print_json(
            {
                "MLFLOW_TRACKING_URI": outputs.mlflow_url,
                "MLFLOW_TRACKING_TOKEN": value if show_secrets else "[secret]",
                "clientId": granted.client_id,
                "expiresAt": expires,
            }
        )
        return
    typer.echo(f"export MLFLOW_TRACKING_URI={shlex.quote(outputs.mlflow_url)}")
    typer.echo(f"export MLFLOW_TRACKING_TOKEN={shlex.quote(value)}")
    typer.echo(
        f"# token of client {granted.client_id}, expires {expires} "
        f"(in {format_duration(granted.expires_in)}); run stackctl token again then"
    )
    if not show_secrets:
        typer.echo(
            'the token is hidden; to use it: eval "$(stackctl token --show-secrets)"', err=True
        )


# -- permissions ----------------------------------------------------------------------------


@permissions_app.command("list")
def permissions_list(
    ctx: typer.Context,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", "-u", help="Also this person's own grants (by username)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """The plugin's pattern grants of every group MLflow admits (the admin and user groups,
    each team), and of the people named with --user: resource, pattern, level, priority.

    Example: stackctl permissions list --user dana -o json"""
    with on_the_realm(ctx) as (outputs, admin):
        subjects = [("group", group) for group in outputs.admitted_groups()]
        for username in user or []:
            email = realm.email_of(admin, username)
            if email is None:
                raise StackctlError(
                    f"{username} has no email, which is how mlflow-oidc-auth names its users"
                )
            subjects.append(("user", email))
        rows: list[dict[str, Any]] = []
        with outputs.mlflow_admin().session() as api:
            for kind, subject in subjects:
                for resource in PATTERN_ROUTES:
                    for grant in list_pattern_grants(api, kind, subject, resource):
                        rows.append(
                            {
                                kind: subject,
                                "resource": resource,
                                "pattern": grant.regex,
                                "level": grant.permission,
                                "priority": grant.priority,
                            }
                        )
    if as_json:
        print_json(rows)
        return
    title = f"{len(rows)} pattern grant(s) of {len(subjects)} group(s) and person(s)"
    console.print(views.grants_table(rows, title))


# -- backup and restore ---------------------------------------------------------------------


def _progress(as_json: bool) -> Callable[[str], None]:
    """Where a long command's progress lines go: stdout, or stderr when stdout is JSON."""
    return lambda line: typer.echo(line, err=as_json)


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
    as_json: Json = False,
) -> None:
    """Copy the stack's databases, artifacts and Keycloak state into a new directory.

    Example: stackctl backup --to /srv/backups/mlflow-$(date +%F)

    The three databases, the artifacts volume and the Pulumi state of the Keycloak objects,
    each encrypted to the backup key and listed in a manifest signed with it, in a directory
    of mode 700 with files of mode 600. The key is made on the first backup: keep it like the
    stack's passphrase, never beside the backups; restore needs it. Keycloak and MLflow are
    paused for the seconds the copy takes, so it is of one moment: requests wait, none fail.
    """
    target = target_of(ctx)
    say = _progress(as_json)
    with failures_reported():
        key, made = backup_key.for_backup(key_file)
        if made:
            say(
                f"made the backup key {key.path} (key {key.key_id}): keep a copy where you keep "
                "the stack's passphrase, not with the backups; without it no backup restores"
            )
        with target.pulumi_stack("backup") as stack:
            outputs = stack_outputs(stack)
            deployment = stack.export_stack().deployment or {}
        manifest = backups.take_backup(outputs, deployment, target.stack, to, key, say)
    total = sum(part.bytes for part in manifest.parts)
    if as_json:
        print_json(
            {
                "stack": target.stack,
                "directory": str(to),
                "keyId": key.key_id,
                "parts": len(manifest.parts),
                "bytes": total,
                "writesPausedSeconds": manifest.writes_paused_seconds,
            }
        )
        return
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
    as_json: Json = False,
) -> None:
    """Put a backup back into a freshly created stack with the same config.

    Example: stackctl restore --from /srv/backups/mlflow-2026-12-01 --yes

    The databases and artifacts are replaced, the Keycloak objects' Pulumi state grafted from
    the backup, then `pulumi up` (with the policy pack beside stackctl, in policy/) rolls their
    secrets out to the containers. The backup (its signature with the backup key, every
    part's checksum) and the stack are checked before anything is changed.
    """
    confirmed_or_told(yes)
    target = target_of(ctx)
    say = _progress(as_json)
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
        say(
            f"backup {source} of {manifest.created}: signed with key {key.key_id}, complete, "
            "every checksum matches"
        )
        if not yes:
            confirm(f"Replace stack {target.stack!r}'s data with this backup?")
        data_restored = False
        try:
            backups.restore_data(source, manifest, stores, key, say)
            data_restored = True
            backups.import_state(stack, grafted, exported.version or 3)
            say("Pulumi state of the Keycloak objects: grafted from the backup")
            backups.start_services(stores, say)
            say("pulumi up: the restored secrets go out to the containers")
            # The policy pack judges this update like any other: a backup is data, not a way
            # around the rules. It is the pack of stackctl's own checkout, as scripts/pulumi.sh
            # runs it, whichever --project-dir the stack's program is in.
            policy = str(PROJECT_DIR / "policy")
            stack.up(
                on_output=say,
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
            backups.start_services(stores, say)  # the data is the backup's, whole
            raise StackctlError(
                f"{error}; restore stopped part way (the data is restored): fix that, then "
                "run restore again with --overwrite"
            ) from None
    if as_json:
        print_json({"stack": target.stack, "restoredFrom": str(source), "keyId": key.key_id})
    else:
        typer.echo(f"stack {target.stack!r} restored from {source}")
