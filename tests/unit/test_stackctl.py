"""stackctl without a server: usage and exit codes, where its credentials come from, and how
Keycloak's representations read as tables and JSON."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from stackctl.cli import _seconds, app
from stackctl.errors import StackctlError
from stackctl.outputs import (
    _pulumi_message,
    load_outputs_file,
    load_stack_outputs,
    pulumi_cli_root,
    pulumi_environment,
)
from stackctl.realm import Revocation
from stackctl.views import (
    admin_event_rows,
    admin_events_table,
    event_rows,
    events_table,
    policy_rows,
    session_rows,
    sessions_table,
    to_json,
)
from stackrules.versions import pinned_versions

runner = CliRunner()

OUTPUTS: dict[str, Any] = {
    "mlflowUrl": "http://localhost:5000",
    "keycloakUrl": "http://localhost:8080",
    "keycloakAdminConsoleUrl": "http://localhost:8080/admin/master/console/",
    "issuer": "http://localhost:8080/realms/mlflow",
    "realm": "mlflow",
    "clientId": "mlflow",
    "clientSecret": "client-secret-value",
    "keycloakAdminUsername": "admin",
    "keycloakAdminPassword": "admin-password-value",
    "userInitialPasswords": {"ada": "x"},
    "mlflowDbPort": 15432,
    "keycloakDbPort": 15433,
}
AUTOMATION = {"automationClientId": "mlflow-automation", "automationClientSecret": "auto-secret"}
STACK_ADMIN = {"stackAdminClientId": "mlflow-stack-admin", "stackAdminClientSecret": "admin-secret"}

# Shaped like Keycloak 26's answers (UserSessionRepresentation, EventRepresentation,
# AdminEventRepresentation), trimmed to a few fields.
ALICE_ID = "9c0557e9-a7d1-4b08-bf4b-bd81259f8c92"
ADMIN_ID = "66012fd2-ec3f-459d-9cc2-f43da723c85c"
SESSION = {
    "id": "2a7c4f89-7073-417d-c1a2-70563f01d65d",
    "username": "alice",
    "userId": ALICE_ID,
    "ipAddress": "172.17.0.1",
    "start": 1795877659000,
    "lastAccess": 1795877719000,
    "rememberMe": False,
    "clients": {"c7e48ba3-80e1-49b1-ae9a-d952fe399729": "mlflow"},
    "transientUser": False,
}
LOGIN = {
    "id": "7330da63-3183-49b2-9173-33103276480b",
    "time": 1795877659332,
    "type": "LOGIN",
    "realmId": "8f8b47c3-13f6-4f19-a24f-f085eb83a467",
    "clientId": "mlflow",
    "userId": ALICE_ID,
    "sessionId": SESSION["id"],
    "ipAddress": "172.17.0.1",
    "details": {
        "auth_method": "openid-connect",
        "token_id": "onrtro:af22dbb8-7d5b-f6f5-dccb-0cccc848ec21",
        "grant_type": "password",
        "username": "alice",
    },
}
REFRESH = {
    "time": 1795877700000,
    "type": "REFRESH_TOKEN",
    "clientId": "mlflow",
    "userId": ALICE_ID,
    "ipAddress": "172.17.0.1",
    "details": {"token_id": "abc"},
}
LOGOUT_BY_ADMIN = {
    "time": 1795877762000,
    "realmId": "8f8b47c3-13f6-4f19-a24f-f085eb83a467",
    "authDetails": {
        "realmId": "321ebfd9-14ea-40aa-8b84-e55a4d3223ba",
        "clientId": "95f05130-fb0e-4f12-a8f2-11cdf35765a3",
        "userId": ADMIN_ID,
        "ipAddress": "172.17.0.1",
    },
    "operationType": "ACTION",
    "resourceType": "USER",
    "resourcePath": f"users/{ALICE_ID}/logout",
}
REALM = {
    "accessTokenLifespan": 300,
    "ssoSessionIdleTimeout": 1800,
    "ssoSessionMaxLifespan": 36000,
    "offlineSessionIdleTimeout": 2592000,
    "revokeRefreshToken": True,
    "refreshTokenMaxReuse": 0,
    "bruteForceProtected": True,
    "permanentLockout": False,
    "failureFactor": 5,
    "eventsEnabled": True,
    "eventsExpiration": 604800,
    "adminEventsEnabled": True,
    "adminEventsDetailsEnabled": True,
    "attributes": {"adminEventsExpiration": "2592000"},
    "passwordPolicy": "length(12) and notUsername and notEmail",
}


def write(path: Path, value: Any) -> Path:
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def rendered(table: Any) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- usage and exit codes -------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("status", "sessions", "users", "permissions", "events", "token", "backup"):
        assert command in result.stdout


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_takes_json_and_shows_an_example_in_its_help() -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    assert len(commands) == 14, sorted(commands)

    def takes_json(command: Any) -> bool:
        return any("--json" in param.opts for param in command.params)

    assert [path for path, command in commands.items() if not takes_json(command)] == []
    no_example = [
        path for path, command in commands.items() if "Example" not in (command.help or "")
    ]
    assert no_example == [], no_example


def test_root_options_and_o_json_work_after_the_subcommand(tmp_path: Path) -> None:
    down = {**OUTPUTS, "keycloakUrl": f"http://127.0.0.1:{free_port()}",
            "mlflowUrl": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
    outputs = str(write(tmp_path / "outputs.json", down))
    before = runner.invoke(app, ["--outputs-file", outputs, "status", "--json"])
    for args in (
        ["status", "--outputs-file", outputs, "-o", "json"],
        ["status", "--output=json", "--outputs-file=" + outputs],
        ["status", "--stack", "qa", "--outputs-file", outputs, "--json"],
    ):
        after = runner.invoke(app, args)
        assert (after.exit_code, json.loads(after.stdout)) == (1, json.loads(before.stdout)), args


def test_an_output_format_other_than_json_or_table_is_a_usage_error() -> None:
    result = runner.invoke(app, ["status", "-o", "yaml"])
    assert result.exit_code == 2
    assert "takes json or table, not 'yaml'" in result.stderr


def test_version_names_the_pinned_services() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    pins = pinned_versions()
    for key in ("KEYCLOAK_VERSION", "MLFLOW_VERSION", "MLFLOW_OIDC_AUTH_VERSION"):
        assert pins[key] in result.stdout


def test_answering_no_is_exit_3_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if on a terminal; Keycloak's URL answers nothing, so reaching it would be exit 1.
    monkeypatch.setattr("stackctl.users_cli.confirmed_or_told", lambda yes: None)
    closed = f"http://127.0.0.1:{free_port()}"
    outputs = write(tmp_path / "outputs.json", {**OUTPUTS, **STACK_ADMIN, "keycloakUrl": closed})
    result = runner.invoke(
        app, ["users", "disable", "alice", "--outputs-file", str(outputs)], input="n\n"
    )
    assert result.exit_code == 3, result.output
    assert "declined: nothing was changed" in result.stderr
    assert "disabled" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["events", "--since", "1x"],
        ["events", "--since", "1.5h"],
        ["events", "--max", "0"],
        ["admin-events", "--max", "1001"],
        ["sessions", "revoke", "--yes"],
        ["sessions", "revoke", "--user", "alice", "--all-users", "--yes"],
        ["sessions", "revoke", "--user", "alice", "--session", "abc", "--yes"],
        ["sessions", "list", "--bogus"],
        ["users", "disable"],
        ["users", "disable", "a", "b", "--yes"],
        ["users", "list", "--bogus"],
        ["permissions", "list", "--bogus"],
        ["status", "--output"],
    ],
)
def test_usage_errors_exit_2_before_touching_any_stack(args: list[str], tmp_path: Path) -> None:
    # The outputs file does not exist: reaching for it would be exit 1, not 2.
    result = runner.invoke(app, ["--outputs-file", str(tmp_path / "absent.json"), *args])
    assert result.exit_code == 2, result.output


def test_since_error_names_the_option_and_the_accepted_forms() -> None:
    result = runner.invoke(app, ["events", "--since", "soon"])
    assert result.exit_code == 2
    assert "--since" in result.stderr
    assert "'5m'" in result.stderr


def test_revoke_without_yes_and_without_a_terminal_refuses_with_exit_2(tmp_path: Path) -> None:
    outputs = write(tmp_path / "outputs.json", OUTPUTS)
    for scope in (["--user", "alice"], ["--session", "abc"], ["--all-users"]):
        result = runner.invoke(app, ["--outputs-file", str(outputs), "sessions", "revoke", *scope])
        assert result.exit_code == 2
        assert "pass --yes" in result.stderr
        assert "revoked" not in result.stdout


def test_users_disable_without_yes_and_without_a_terminal_refuses_with_exit_2(
    tmp_path: Path,
) -> None:
    outputs = write(tmp_path / "outputs.json", OUTPUTS)
    result = runner.invoke(app, ["--outputs-file", str(outputs), "users", "disable", "alice"])
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr


def test_users_disable_on_a_stack_without_its_admin_client_changes_nothing(
    tmp_path: Path,
) -> None:
    # Keycloak's URL answers nothing: had the command reached for it, the error would say so.
    outputs = write(tmp_path / "outputs.json", {**OUTPUTS, "keycloakUrl": "http://127.0.0.1:9"})
    args = ["--outputs-file", str(outputs), "users", "disable", "alice", "--yes"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no stackAdminClientId/stackAdminClientSecret outputs" in result.stderr
    assert "run `pulumi up` once" in result.stderr


def test_token_without_an_automation_client_says_how_to_enable_one(tmp_path: Path) -> None:
    outputs = write(tmp_path / "outputs.json", OUTPUTS)
    result = runner.invoke(app, ["--stack", "qa", "--outputs-file", str(outputs), "token"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "config set automationClientId mlflow-automation --stack qa" in result.stderr
    assert "scripts/up.sh qa" in result.stderr
    assert "MLFLOW_TRACKING_TOKEN" not in result.stdout


def test_unreachable_keycloak_is_one_line_naming_its_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    outputs = write(tmp_path / "outputs.json", {**OUTPUTS, "keycloakUrl": url})
    result = runner.invoke(app, ["--outputs-file", str(outputs), "sessions", "list"])
    assert result.exit_code == 1
    assert result.stderr == f"error: Keycloak at {url} is unreachable; is the stack up? " + (
        "(scripts/up.sh)\n"
    )
    assert "Traceback" not in result.output


def test_status_reports_both_services_down_as_json_and_exits_1(tmp_path: Path) -> None:
    down = {
        **OUTPUTS,
        "keycloakUrl": f"http://127.0.0.1:{free_port()}",
        "mlflowUrl": f"http://127.0.0.1:{free_port()}",
    }
    outputs = write(tmp_path / "outputs.json", down)
    result = runner.invoke(app, ["--outputs-file", str(outputs), "status", "--json"])
    assert result.exit_code == 1
    status = json.loads(result.stdout)
    assert status["healthy"] is False
    assert [(s["name"], s["url"], s["healthy"]) for s in status["services"]] == [
        ("keycloak", down["keycloakUrl"], False),
        ("mlflow", down["mlflowUrl"], False),
    ]
    assert "token policy unavailable" in result.stderr


# -- where the outputs come from --------------------------------------------------------------


def test_outputs_file_loads_every_output_and_keeps_secrets_out_of_reprs(tmp_path: Path) -> None:
    loaded = load_outputs_file(write(tmp_path / "o.json", {**OUTPUTS, **AUTOMATION}))
    assert loaded.keycloak_url == "http://localhost:8080"
    assert loaded.realm == "mlflow"
    assert loaded.automation_client_id == "mlflow-automation"
    assert loaded.keycloak_admin_password.get_secret_value() == "admin-password-value"
    assert "admin-password-value" not in repr(loaded)
    assert "client-secret-value" not in str(loaded)


def test_automation_outputs_are_optional(tmp_path: Path) -> None:
    loaded = load_outputs_file(write(tmp_path / "o.json", OUTPUTS))
    assert loaded.automation_client_id is None
    assert loaded.automation_client_secret is None


def test_missing_outputs_file_says_how_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(
        StackctlError, match=r"does not exist; write it .*\(umask 077; scripts/pulumi\.sh"
    ):
        load_outputs_file(tmp_path / "absent.json")


def test_missing_outputs_are_named(tmp_path: Path) -> None:
    partial = {k: v for k, v in OUTPUTS.items() if k not in ("realm", "keycloakAdminPassword")}
    with pytest.raises(StackctlError) as raised:
        load_outputs_file(write(tmp_path / "o.json", partial))
    assert "missing output(s) realm, keycloakAdminPassword" in str(raised.value)


def test_bad_json_names_the_place(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match=r"not valid JSON \(line 2, column 3"):
        load_outputs_file(write(tmp_path / "o.json", '{"realm": "mlflow",\n  oops}'))


def test_json_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match="must hold a JSON object"):
        load_outputs_file(write(tmp_path / "o.json", ["mlflow"]))


def test_outputs_exported_without_show_secrets_are_refused(tmp_path: Path) -> None:
    hidden = {**OUTPUTS, "clientSecret": "[secret]", "keycloakAdminPassword": "[secret]"}
    with pytest.raises(
        StackctlError, match="clientSecret, keycloakAdminPassword as '\\[secret\\]'"
    ):
        load_outputs_file(write(tmp_path / "o.json", hidden))


def test_outputs_file_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = write(tmp_path / "o.json", "{")
    for args in (["sessions", "list"], ["events"], ["admin-events"], ["status"], ["token"]):
        result = runner.invoke(app, ["--outputs-file", str(bad), *args])
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: outputs file ")
        assert result.stderr.count("\n") == 1


def test_pulumi_environment_defaults_to_the_scripts_backend_and_passphrase() -> None:
    added = pulumi_environment({"HOME": "/home/op"})
    assert added["PULUMI_BACKEND_URL"] == "file:///home/op/.local/share/mlflow-keycloak-stack/state"
    assert added["PULUMI_CONFIG_PASSPHRASE_FILE"] == (
        "/home/op/.config/mlflow-keycloak-stack/passphrase"
    )


def test_a_pulumi_login_of_the_users_own_is_their_backend(tmp_path: Path) -> None:
    home = tmp_path / "pulumi-home"
    home.mkdir()
    (home / "credentials.json").write_text(json.dumps({"current": "s3://team-state"}))
    added = pulumi_environment({"HOME": str(tmp_path), "PULUMI_HOME": str(home)})
    assert "PULUMI_BACKEND_URL" not in added  # Pulumi goes where they logged in
    (home / "credentials.json").write_text(json.dumps({"current": ""}))
    logged_out = pulumi_environment({"HOME": str(tmp_path), "PULUMI_HOME": str(home)})
    assert logged_out["PULUMI_BACKEND_URL"].startswith("file://")


def test_pulumi_environment_leaves_an_operators_own_settings_alone() -> None:
    mine = {
        "HOME": "/home/op",
        "PULUMI_BACKEND_URL": "s3://bucket",
        "PULUMI_CONFIG_PASSPHRASE": "p",
    }
    assert pulumi_environment(mine) == {"PULUMI_SKIP_UPDATE_CHECK": "true"}
    only_file = {"HOME": "/h", "PULUMI_CONFIG_PASSPHRASE_FILE": "/run/p"}
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in pulumi_environment(only_file)
    overridden = pulumi_environment(
        {"HOME": "/h", "MKS_STATE_DIR": "/s", "MKS_PASSPHRASE_FILE": "/p"}
    )
    assert overridden["PULUMI_BACKEND_URL"] == "file:///s"
    assert overridden["PULUMI_CONFIG_PASSPHRASE_FILE"] == "/p"


def test_a_stack_never_deployed_here_is_named_before_pulumi_runs(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match=r"no stack passphrase in .*run scripts/up\.sh"):
        load_stack_outputs("dev", {"HOME": str(tmp_path), "PATH": ""})


def test_no_pulumi_cli_points_at_the_scripts_or_the_outputs_file(tmp_path: Path) -> None:
    with pytest.raises(StackctlError, match=r"no pulumi CLI.*--outputs-file"):
        pulumi_cli_root({"HOME": str(tmp_path), "PATH": str(tmp_path)})


def test_pulumi_errors_are_reduced_to_the_cli_error_line() -> None:
    text = (
        "\n code: 1\n stdout: \n stderr: error: failed to decrypt: incorrect passphrase, please "
        "set PULUMI_CONFIG_PASSPHRASE to the correct passphrase"
    )
    assert _pulumi_message(Exception(text)).startswith("failed to decrypt: incorrect passphrase")


# -- --since ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800)]
)
def test_since_takes_written_durations(text: str, seconds: int) -> None:
    assert _seconds(text) == seconds


def test_since_refuses_what_is_not_a_duration() -> None:
    with pytest.raises(typer.BadParameter, match="not a duration"):
        _seconds("yesterday")


# -- formatting -------------------------------------------------------------------------------


def test_session_rows_read_who_where_since_when_and_which_clients() -> None:
    [row] = session_rows([SESSION])
    assert row == {
        "id": SESSION["id"],
        "user": "alice",
        "userId": ALICE_ID,
        "ip": "172.17.0.1",
        "started": "2026-11-28T14:54:19Z",
        "lastAccess": "2026-11-28T14:55:19Z",
        "clients": ["mlflow"],
    }
    assert json.loads(to_json([row])) == [row]
    table = rendered(sessions_table([row], "sessions"))
    for text in ("alice", "172.17.0.1", "2026-11-28 14:54:19", "mlflow", str(SESSION["id"])):
        assert text in table


def test_event_rows_name_users_even_where_keycloak_gives_only_an_id() -> None:
    rows = event_rows([REFRESH, LOGIN], {ALICE_ID: "alice"})
    assert [(row["type"], row["user"]) for row in rows] == [
        ("REFRESH_TOKEN", "alice"),
        ("LOGIN", "alice"),
    ]
    assert rows[1]["time"] == "2026-11-28T14:54:19Z"
    assert rows[1]["details"]["token_id"].startswith("onrtro:")  # --json keeps everything
    unnamed = event_rows([REFRESH], {})
    assert unnamed[0]["user"] == ALICE_ID


def test_events_table_leaves_opaque_token_ids_out() -> None:
    table = rendered(events_table(event_rows([LOGIN], {}), "events"))
    assert "LOGIN" in table and "alice" in table and "grant_type=password" in table
    assert "token_id" not in table


def test_admin_event_rows_name_the_actor_and_the_user_acted_on() -> None:
    [row] = admin_event_rows([LOGOUT_BY_ADMIN], {ADMIN_ID: "admin", ALICE_ID: "alice"})
    assert (row["operation"], row["resourceType"], row["user"], row["actor"]) == (
        "ACTION",
        "USER",
        "alice",
        "admin",
    )
    table = rendered(admin_events_table([row], "admin events"))
    assert f"users/{ALICE_ID}/logout" in table
    assert "admin" in table


def test_policy_rows_read_as_the_stack_config_that_sets_them() -> None:
    rows = {row["setting"]: row for row in policy_rows(REALM)}
    assert rows["access token lifespan"]["deployed"] == "5m"
    assert rows["access token lifespan"]["configKey"] == "accessTokenLifespan"
    assert rows["SSO session idle"]["deployed"] == "30m"
    assert rows["SSO session max"]["deployed"] == "10h"
    assert rows["revoke refresh token"]["deployed"] == "on (max reuse 0)"
    assert rows["brute-force detection"]["deployed"] == ("on (temporary lockout after 5 failures)")
    assert rows["login events"]["deployed"] == "stored, kept 7d"
    assert rows["admin events"]["deployed"] == "stored with details, kept 30d"
    assert rows["admin events"]["fields"]["attributes.adminEventsExpiration"] == "2592000"


def test_policy_rows_show_keycloaks_unsafe_defaults_plainly() -> None:
    defaults = {"accessTokenLifespan": 300, "revokeRefreshToken": False, "eventsEnabled": False}
    rows = {row["setting"]: row["deployed"] for row in policy_rows(defaults)}
    assert rows["revoke refresh token"] == "off (refresh tokens reusable)"
    assert rows["brute-force detection"] == "off"
    assert rows["login events"] == "not stored"
    assert rows["admin events"] == "not stored"


def test_revocation_counts_sessions_per_user_including_users_without_any() -> None:
    second = {**SESSION, "id": "other"}
    plan = Revocation("user", [SESSION, second], {"alice": ALICE_ID})
    assert plan.counts() == {"alice": 2}
    assert Revocation("user", [], {"otto": "id"}).counts() == {"otto": 0}


def test_a_hostile_username_in_an_event_is_shown_as_text_not_read_as_markup() -> None:
    # Anyone can put this in the event log: a failed login with this username.
    hostile = "[/x] [bold red]admin[/bold red]"
    failed = {
        "time": 1764600000000,
        "type": "LOGIN_ERROR",
        "clientId": "mlflow",
        "ipAddress": "127.0.0.1",
        "error": "user_not_found",
        "details": {"username": hostile, "reason": "[link=http://x]click[/link]"},
    }
    console = Console(record=True, width=300)
    console.print(events_table(event_rows([failed], {}), f"events of user {hostile!r}"))
    shown = console.export_text()
    assert shown.count(hostile) == 2, shown  # in its row and in the title
    assert "reason=[link=http://x]click[/link]" in shown
