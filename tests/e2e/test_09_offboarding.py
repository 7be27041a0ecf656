"""Offboarding ends every kind of MLflow access within seconds of the command returning.

A person who holds a personal access token (PAT), a Keycloak bearer token and a browser
session is (1) removed from the stack config and `pulumi up` runs, then, once back, (2)
disabled by `stackctl users disable` (`stackctl users enable` undoes it), and (3) kept out by
`enabled: false` in the config. Each time all three are refused within BOUND_SECONDS; the
measured times are printed. Once she is gone, a colleague cannot take her email
(mlflow-oidc-auth names accounts by it) to inherit her MLflow account.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext
from typer.testing import CliRunner

from stackctl.cli import app
from tests.e2e.browser_login import sign_in
from tests.support.deployment import (
    POLICY_CONFIG,
    POLICY_PACK,
    USERS,
    Deployment,
    e2e_config,
    log,
    poll,
)

LEAVER = "lena"
# mlflow-oidc-auth's name of her: her email.
LEAVER_ACCOUNT = "lena@example.com"
# A colleague who stays, and who tries to take the leaver's email.
TAKER = "alice"
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"
BOUND_SECONDS = 10


@dataclass
class Access:
    """Every credential one person can reach MLflow with."""

    context: BrowserContext
    pat: str
    bearer: str


def open_access(deployment: Deployment, browser: Browser) -> Access:
    """Sign the leaver in with the browser, get a bearer token and mint a PAT with it."""
    context = browser.new_context()
    sign_in(context.new_page(), deployment, LEAVER, deployment.set_known_password(LEAVER))
    bearer = deployment.user_tokens(LEAVER)["access_token"]
    expiry = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    with deployment.mlflow(bearer) as api:
        made = api.post(
            "/api/2.0/mlflow/users/current/tokens",
            json={"name": f"e2e-{uuid.uuid4().hex[:8]}", "expiration": expiry},
        )
    assert made.status_code == 201, made.text
    return Access(context, made.json()["token"], bearer)


def answers(deployment: Deployment, access: Access) -> dict[str, int]:
    """MLflow's status code for each credential (200: accepted)."""
    with (
        deployment.mlflow(access.bearer) as bearer,
        deployment.mlflow(basic=(LEAVER_ACCOUNT, access.pat)) as pat,
    ):
        session = access.context.request.get(f"{deployment.mlflow_url}{SEARCH}", max_redirects=0)
        return {
            "personal access token": pat.get(SEARCH).status_code,
            "bearer token": bearer.get(SEARCH).status_code,
            "browser session": session.status,
        }


def allowed(deployment: Deployment, access: Access) -> dict[str, bool]:
    """Which of the credentials MLflow still accepts."""
    return {kind: code == 200 for kind, code in answers(deployment, access).items()}


def seconds_until_refused(deployment: Deployment, access: Access) -> float:
    """From now until MLflow refuses every credential of the leaver (TimeoutError past the
    bound)."""
    return poll(lambda: not any(allowed(deployment, access).values()), BOUND_SECONDS, interval=0.5)


def users_config(**leaver: object) -> list[dict[str, object]]:
    """e2e_config's users, with the leaver's entry changed (or left out: gone=True)."""
    users = []
    for user in e2e_config()["users"]:
        if user["username"] == LEAVER:
            if leaver.get("gone"):
                continue
            user = {**user, **{k: v for k, v in leaver.items() if k != "gone"}}
        users.append(user)
    return users


def try_to_take_email(deployment: Deployment, username: str, email: str) -> httpx.Response:
    """The person changes their own email through Keycloak's account API, as the account console
    does, with their own token."""
    token = deployment.user_tokens(username)["access_token"]
    with httpx.Client(
        base_url=f"{deployment.keycloak_url}/realms/{deployment.realm}/account",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        verify=deployment.tls(),
        timeout=30,
    ) as account:
        profile = account.get("/")
        # The account API answers this person: a refusal below is about the email, not access.
        assert profile.status_code == 200, profile.text
        return account.post("/", json={**profile.json(), "email": email})


def cli_up_refresh(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    """`pulumi up --refresh --yes` by the real CLI on the stack, with the policy pack."""
    workspace = deployment.stack.workspace
    command = ["pulumi", "up", "--refresh", "--yes", "--non-interactive", "--color", "never"]
    return subprocess.run(
        [
            *command,
            *("--stack", deployment.stack.name),
            *("--policy-pack", POLICY_PACK, "--policy-pack-config", POLICY_CONFIG),
        ],
        cwd=workspace.work_dir,
        env={**os.environ, **workspace.env_vars},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def access(deployment: Deployment, browser: Browser) -> Iterator[Access]:
    opened = open_access(deployment, browser)
    codes = answers(deployment, opened)
    assert set(codes.values()) == {200}, codes
    yield opened
    opened.context.close()


@pytest.fixture
def restore_users(deployment: Deployment) -> Iterator[None]:
    """Whatever a test did to the leaver, the stack ends as e2e_config declares it."""
    yield
    deployment.set_config("users", users_config())
    deployment.up(log)
    # Re-added, she is a new Keycloak user: the password the suite gave the old one is gone.
    deployment.test_passwords.pop(LEAVER, None)


def test_a_person_removed_from_the_config_loses_pat_bearer_and_session(
    deployment: Deployment, access: Access, restore_users: None, measurements: dict[str, float]
) -> None:
    assert any(user["username"] == LEAVER for user in USERS)
    deployment.set_config("users", users_config(gone=True))
    started = time.monotonic()
    deployment.up(log)
    up_seconds = time.monotonic() - started
    refused = seconds_until_refused(deployment, access)
    measurements["removed from config: `up` (s)"] = up_seconds
    measurements["removed from config: `up` returned -> PAT, bearer, session refused (s)"] = refused
    print(f"removed from config: up took {up_seconds:.1f}s, all refused {refused:.2f}s after")

    # Her email is free in Keycloak now; a colleague who took it would be her in MLflow.
    own_email = deployment.admin().get_user(deployment.user_id(TAKER))["email"]
    taken = try_to_take_email(deployment, TAKER, LEAVER_ACCOUNT)
    assert taken.status_code == 400, taken.text
    assert "read-only" in taken.text or "readOnly" in taken.text, taken.text
    assert deployment.admin().get_user(deployment.user_id(TAKER))["email"] == own_email
    claims = deployment.oidc().decode_token(deployment.user_tokens(TAKER)["access_token"])
    assert claims["email"] == own_email


def test_stackctl_users_disable_ends_access_and_enabled_false_keeps_it_ended(
    deployment: Deployment,
    access: Access,
    restore_users: None,
    measurements: dict[str, float],
    tmp_path: Path,
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.touch(mode=0o600)
    outputs.write_text(json.dumps(deployment.outputs))
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["--outputs-file", str(outputs), "users", "disable", LEAVER, "--yes"]
    )
    command_seconds = time.monotonic() - started
    assert result.exit_code == 0, result.output
    print(result.output)
    assert f"{LEAVER}: Keycloak user disabled" in result.output
    assert f"MLflow account {LEAVER_ACCOUNT} deactivated" in result.output
    refused = seconds_until_refused(deployment, access)
    measurements["stackctl users disable (s)"] = command_seconds
    measurements["stackctl users disable returned -> all refused (s)"] = refused
    print(f"stackctl users disable took {command_seconds:.1f}s, all refused {refused:.2f}s after")

    # `stackctl users enable` lets her back in, and then `up --refresh` has nothing to undo.
    enabled = CliRunner().invoke(
        app, ["--outputs-file", str(outputs), "users", "enable", LEAVER, "--yes"]
    )
    assert enabled.exit_code == 0, enabled.output
    assert deployment.admin().get_user(deployment.user_id(LEAVER))["enabled"]
    again = cli_up_refresh(deployment)
    assert again.returncode == 0, again.stdout + again.stderr
    disabled = CliRunner().invoke(
        app, ["--outputs-file", str(outputs), "users", "disable", LEAVER, "--yes"]
    )
    assert disabled.exit_code == 0, disabled.output

    # The config says so too: `up --refresh` keeps the person out, and a new sign-in is refused.
    deployment.set_config("users", users_config(enabled=False))
    deployment.up(log, refresh=True)
    assert not any(allowed(deployment, access).values())
    assert not deployment.admin().get_user(deployment.user_id(LEAVER))["enabled"]
