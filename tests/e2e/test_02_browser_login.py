"""A person opens MLflow, signs in at Keycloak with a temporary password and lands in MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from playwright.sync_api import Browser

from tests.e2e.browser_login import current_user, sign_in
from tests.e2e.form_login import SignInError, form_login, personal_access_token
from tests.support.deployment import Deployment


def test_browser_is_sent_to_keycloak_signs_in_and_lands_in_mlflow(
    deployment: Deployment, browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    temporary = deployment.outputs["userInitialPasswords"]["bella"]
    new_password = "Chosen-" + temporary[::-1]
    sign_in(page, deployment, "bella", temporary, new_password=new_password)
    # MLflow's UI keeps polling, so "network idle" never comes: open the experiment list and
    # wait until it has loaded (its rows, or its empty-state text), not just the page frame.
    page.goto(f"{deployment.mlflow_url}/#/experiments")
    empty = page.get_by_text("Create your first experiment", exact=True)
    page.get_by_role("row").nth(1).or_(empty).first.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / "mlflow-after-login.png"), full_page=True)
    assert current_user(context, deployment)["username"] == "bella@example.com"
    assert page.title() != ""
    context.close()


def test_the_load_generators_form_login_signs_in_like_the_browser_and_gets_a_token(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """benchmarks/load.py signs people in without Chromium (tests/e2e/form_login.py): the same
    authorization-code flow through Keycloak's form; a wrong password is refused."""
    password = deployment.set_known_password("alice")
    browser = form_login(deployment.mlflow_url, "alice", password)
    try:
        me = browser.request("GET", f"{deployment.mlflow_url}/api/2.0/mlflow/users/current")
        assert me.json()["username"] == "alice@example.com"
        token = personal_access_token(browser, deployment.mlflow_url)
    finally:
        browser.close()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice@example.com")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", token)
    client = MlflowClient(tracking_uri=deployment.mlflow_url)
    assert client.search_experiments(max_results=1) is not None
    with pytest.raises(SignInError, match="login form again"):
        form_login(deployment.mlflow_url, "alice", password + "-wrong")
