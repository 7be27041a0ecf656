"""Temporary passwords nobody used (review finding 8): the stack hands each person a generated
temporary password through its outputs. Until they replace it, whoever reads it there can
sign in as them and choose the password. `stackctl users stale` lists such people, `--expire`
deletes those passwords, and a password once used (or expired) leaves the outputs at the next
`up`.

Two newcomers join for this module: tess never signs in, theo does and picks his password.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.e2e.browser_login import sign_in
from tests.support.deployment import Deployment, e2e_config, log

NEWCOMERS = [
    {"username": name, "email": f"{name}@example.com", "groups": ["mlflow"],
     "firstName": name.title(), "lastName": "Newcomer"}
    for name in ("tess", "theo")
]  # fmt: skip


@pytest.fixture(scope="module")
def handed_over(deployment: Deployment) -> Iterator[dict[str, str]]:
    """The newcomers' temporary passwords, as the outputs hand them over after their `up`."""
    deployment.set_config("users", [*e2e_config()["users"], *NEWCOMERS])
    deployment.up(log)
    yield dict(deployment.outputs["userInitialPasswords"])
    deployment.set_config("users", e2e_config()["users"])
    deployment.up(log)


def _stale(deployment: Deployment, *args: str) -> list[dict[str, Any]]:
    result = deployment.stackctl("users", "stale", *args, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def _reaches_choose_password(browser: Browser, deployment: Deployment, password: str) -> bool:
    """Whether tess's handed-over password gets a browser to Keycloak's "choose your password"
    form (the takeover), rather than to a refusal."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(deployment.mlflow_url)
    page.wait_for_url(f"{deployment.keycloak_url}/realms/{deployment.realm}/**")
    page.fill("#username", "tess")
    page.fill("#password", password)
    page.click("#kc-login")
    # keycloak.v2: the refusal is shown under the field, the required action as its own form.
    outcome = page.wait_for_selector("#password-new, [id^=input-error-]", timeout=30_000)
    assert outcome is not None
    reached = outcome.get_attribute("id") == "password-new"
    if not reached:
        assert "Invalid username or password" in outcome.inner_text()
    context.close()
    return reached


def test_an_unused_temporary_password_is_listed_expired_and_leaves_the_outputs(
    deployment: Deployment, browser: Browser, handed_over: dict[str, str]
) -> None:
    assert {"tess", "theo"} <= set(handed_over)
    context = browser.new_context()
    chosen = "Ch0sen-" + handed_over["theo"][::-1]
    sign_in(context.new_page(), deployment, "theo", handed_over["theo"], new_password=chosen)
    context.close()

    # The finding: tess's password, read from the outputs, lets anyone choose hers.
    assert _reaches_choose_password(browser, deployment, handed_over["tess"])
    listed = {row["username"] for row in _stale(deployment, "--days", "0")}
    assert "tess" in listed
    assert "theo" not in listed, "theo replaced his"
    assert not _stale(deployment, "--days", "1", "--user", "tess"), "created today"

    expired = _stale(deployment, "--days", "0", "--user", "tess", "--expire", "--yes")
    assert [(row["username"], row["expired"]) for row in expired] == [("tess", True)]
    assert not _reaches_choose_password(browser, deployment, handed_over["tess"])
    assert not _stale(deployment, "--days", "0", "--user", "tess"), "expired once"

    deployment.up(log)
    left = set(deployment.outputs["userInitialPasswords"])
    assert not {"tess", "theo"} & left
    assert left <= {user["username"] for user in e2e_config()["users"]}
