"""stackctl against the real stack: the seed's console chores done from the outputs alone.

Every call goes through the CLI (typer's runner) with `--outputs-file`, the way a machine
without the Pulumi CLI uses it; what it claims is checked against Keycloak and MLflow.
"""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError
from typer.testing import CliRunner, Result

from stackctl.cli import app
from stackrules.durations import format_duration
from tests.support.deployment import ACCESS_TOKEN_SECONDS, Deployment

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"
runner = CliRunner()


@pytest.fixture(scope="module")
def outputs_file(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if deployment.destroyed:
        pytest.fail("the stack was destroyed before the stackctl tests ran", pytrace=False)
    path = tmp_path_factory.mktemp("stackctl") / "outputs.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(deployment.outputs))
    return path


def stackctl(outputs_file: Path, *args: str) -> Result:
    return runner.invoke(app, ["--outputs-file", str(outputs_file), *args])


def stackctl_json(outputs_file: Path, *args: str) -> Any:
    result = stackctl(outputs_file, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def session_id(tokens: dict[str, Any]) -> str:
    """The Keycloak session a token belongs to (its `sid` claim)."""
    payload = tokens["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


def test_status_shows_both_services_ready_and_the_deployed_token_policy(
    outputs_file: Path,
) -> None:
    status = stackctl_json(outputs_file, "status")
    assert status["healthy"] is True, status
    assert {s["name"] for s in status["services"] if s["healthy"]} == {"keycloak", "mlflow"}
    policy = {row["setting"]: row["deployed"] for row in status["policy"]}
    assert policy["access token lifespan"] == format_duration(ACCESS_TOKEN_SECONDS)
    assert policy["revoke refresh token"] == "on (max reuse 0)"
    assert policy["login events"] == "stored, kept 7d"
    assert policy["admin events"] == "stored with details, kept 30d"
    table = stackctl(outputs_file, "status")
    assert table.exit_code == 0
    assert "accessTokenLifespan" in table.stdout


def test_a_signed_in_users_sessions_are_listed_for_the_user_the_client_and_the_realm(
    deployment: Deployment, outputs_file: Path
) -> None:
    sid = session_id(deployment.user_tokens("alice"))
    mine = stackctl_json(outputs_file, "sessions", "list", "--user", "alice")
    assert sid in {row["id"] for row in mine}
    assert all(row["user"] == "alice" for row in mine)
    [row] = [row for row in mine if row["id"] == sid]
    assert row["clients"] == [deployment.outputs["clientId"]]
    assert row["ip"] and row["started"].endswith("Z")
    in_client = stackctl_json(outputs_file, "sessions", "list", "--client", "mlflow")
    assert sid in {row["id"] for row in in_client}
    everyone = stackctl_json(outputs_file, "sessions", "list")
    assert sid in {row["id"] for row in everyone}
    table = stackctl(outputs_file, "sessions", "list", "--user", "alice")
    assert table.exit_code == 0
    assert "alice" in table.stdout


def test_revoking_a_user_ends_every_session_and_refresh_fails_at_once(
    deployment: Deployment, outputs_file: Path
) -> None:
    first = deployment.user_tokens("alice")
    deployment.user_tokens("alice")
    result = stackctl(outputs_file, "sessions", "revoke", "--user", "alice", "--yes")
    assert result.exit_code == 0, result.output
    count = int(result.stdout.split("revoked ", 1)[1].split()[0])
    assert count >= 2
    assert f"revoked {count} session(s) of alice" in result.stdout
    assert stackctl_json(outputs_file, "sessions", "list", "--user", "alice") == []
    assert deployment.admin().get_sessions(deployment.user_id("alice")) == []
    with pytest.raises(KeycloakError):
        deployment.oidc().refresh_token(first["refresh_token"])


def test_revoking_one_session_leaves_the_users_other_sessions(
    deployment: Deployment, outputs_file: Path
) -> None:
    ended, kept = deployment.user_tokens("alice"), deployment.user_tokens("alice")
    result = stackctl(outputs_file, "sessions", "revoke", "--session", session_id(ended), "--yes")
    assert result.exit_code == 0, result.output
    assert f"revoked session {session_id(ended)} of alice" in result.stdout
    left = {row["id"] for row in stackctl_json(outputs_file, "sessions", "list", "--user", "alice")}
    assert session_id(ended) not in left
    assert session_id(kept) in left
    with pytest.raises(KeycloakError):
        deployment.oidc().refresh_token(ended["refresh_token"])
    assert deployment.oidc().refresh_token(kept["refresh_token"])["access_token"]


def test_the_login_appears_in_the_login_events_of_the_user(
    deployment: Deployment, outputs_file: Path
) -> None:
    sid = session_id(deployment.user_tokens("alice"))
    rows = stackctl_json(
        outputs_file, "events", "--type", "LOGIN", "--user", "alice", "--since", "15m"
    )
    assert rows, "no LOGIN event of alice in the last 15 minutes"
    assert {row["type"] for row in rows} == {"LOGIN"}
    assert {row["user"] for row in rows} == {"alice"}
    assert sid in {row["sessionId"] for row in rows}
    assert rows == sorted(rows, key=lambda row: row["time"], reverse=True)
    assert len(stackctl_json(outputs_file, "events", "--max", "1")) == 1
    table = stackctl(outputs_file, "events", "--type", "LOGIN", "--user", "alice", "--max", "5")
    assert table.exit_code == 0
    assert "LOGIN" in table.stdout and "alice" in table.stdout


def test_a_revocation_appears_in_the_admin_events_with_who_did_it(
    deployment: Deployment, outputs_file: Path
) -> None:
    deployment.user_tokens("adam")
    revoked = stackctl(outputs_file, "sessions", "revoke", "--user", "adam", "--yes")
    assert revoked.exit_code == 0, revoked.output
    rows = stackctl_json(outputs_file, "admin-events", "--since", "15m")
    logout = f"users/{deployment.user_id('adam')}/logout"
    matching = [row for row in rows if row["resourcePath"] == logout]
    assert matching, f"no admin event for {logout} among {len(rows)}"
    event = matching[0]
    assert event["operation"] == "ACTION"
    assert event["user"] == "adam"
    # stackctl acts as its own realm-scoped account, and the audit trail says so.
    assert event["actor"] == f"service-account-{deployment.outputs['stackctlClientId']}"


def test_token_prints_lines_that_give_a_script_mlflow_access(
    deployment: Deployment, outputs_file: Path
) -> None:
    hidden = stackctl(outputs_file, "token")
    assert hidden.exit_code == 0, hidden.output
    assert "--show-secrets" in hidden.stderr
    shown = stackctl(outputs_file, "token", "--show-secrets")
    assert shown.exit_code == 0, shown.output
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in shown.stdout.splitlines()
        if line.startswith("export ")
    )
    assert exports["MLFLOW_TRACKING_URI"] == deployment.mlflow_url
    token = exports["MLFLOW_TRACKING_TOKEN"]
    assert token not in hidden.stdout
    assert "expires" in shown.stdout
    answer = httpx.get(
        f"{deployment.mlflow_url}{SEARCH}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text


def test_token_as_json_keeps_the_token_secret_unless_shown(
    deployment: Deployment, outputs_file: Path
) -> None:
    hidden = stackctl_json(outputs_file, "token")
    assert hidden["MLFLOW_TRACKING_TOKEN"] == "[secret]"
    assert hidden["MLFLOW_TRACKING_URI"] == deployment.mlflow_url
    shown = stackctl_json(outputs_file, "token", "--show-secrets")
    bearer = {"Authorization": f"Bearer {shown['MLFLOW_TRACKING_TOKEN']}"}
    answer = httpx.get(f"{deployment.mlflow_url}{SEARCH}", headers=bearer, timeout=30)
    assert answer.status_code == 200, answer.text


def test_users_list_shows_each_persons_groups_origin_and_mlflow_account(
    deployment: Deployment, outputs_file: Path
) -> None:
    # alice's MLflow account exists once she has reached MLflow (a bearer call provisions it).
    with deployment.mlflow(deployment.user_tokens("alice")["access_token"]) as mlflow:
        assert mlflow.get(SEARCH).status_code == 200
    people = {row["username"]: row for row in stackctl_json(outputs_file, "users", "list")}
    alice, dana = people["alice"], people["dana"]
    assert (alice["email"], alice["enabled"], alice["groups"]) == (
        "alice@example.com", True, ["mlflow"],
    )  # fmt: skip
    assert dana["groups"] == ["data-science"]
    assert {alice["source"], dana["source"]} == {"realm"}
    assert alice["mlflowAccount"] == "active"
    table = stackctl(outputs_file, "users", "list")
    assert table.exit_code == 0, table.output
    assert f"{len(people)} people in realm" in table.stdout
    assert "alice" in table.stdout  # the table folds long cells at the runner's 80 columns


def test_permissions_list_shows_the_declared_grants_of_each_team(outputs_file: Path) -> None:
    rows = stackctl_json(outputs_file, "permissions", "list")
    grants = {(row.get("group"), row["resource"], row["pattern"], row["level"]) for row in rows}
    assert ("data-science", "experiments", "^ds-", "EDIT") in grants
    assert ("data-science", "experiments", "^shared-", "READ") in grants
    assert ("finance", "experiments", "^finance-", "READ") in grants
    table = stackctl(outputs_file, "permissions", "list")
    assert table.exit_code == 0, table.output
    assert "^finance-" in table.stdout


def test_revoke_as_json_counts_the_sessions_ended_per_user(
    deployment: Deployment, outputs_file: Path
) -> None:
    deployment.user_tokens("alice")
    result = stackctl_json(outputs_file, "sessions", "revoke", "--user", "alice", "--yes")
    assert result["revoked"]["alice"] >= 1
    assert stackctl_json(outputs_file, "sessions", "list", "--user", "alice") == []


def test_without_stack_stackctl_works_on_the_selected_pulumi_stack(
    deployment: Deployment,
) -> None:
    """No --stack: the stack `pulumi stack select` chose in the project (here the e2e stack,
    which creating it selected); the root options may also follow the command."""
    workspace = deployment.stack.workspace
    result = runner.invoke(
        app,
        ["status", "-o", "json", "--project-dir", str(workspace.work_dir)],
        env=dict(workspace.env_vars),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["realm"] == deployment.realm


def test_revoking_an_unknown_user_is_a_one_line_error(
    deployment: Deployment, outputs_file: Path
) -> None:
    result = stackctl(outputs_file, "sessions", "revoke", "--user", "nobody-here", "--yes")
    assert result.exit_code == 1
    assert result.stderr == f"error: no user 'nobody-here' in realm {deployment.realm!r}\n"
    assert "Traceback" not in result.output


def test_stackctls_account_may_not_change_the_realm(deployment: Deployment) -> None:
    """Its roles read the realm and manage users' sessions; changing realm settings is refused."""
    account = KeycloakAdmin(
        server_url=deployment.outputs["keycloakAdminUrl"],
        client_id=deployment.outputs["stackctlClientId"],
        client_secret_key=deployment.outputs["stackctlClientSecret"],
        realm_name=deployment.realm,
        user_realm_name=deployment.realm,
    )
    assert account.get_realm(deployment.realm)["realm"] == deployment.realm
    with pytest.raises(KeycloakError) as refused:
        account.update_realm(deployment.realm, {"accessTokenLifespan": 3600})
    assert refused.value.response_code == 403
