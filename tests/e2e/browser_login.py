"""Signing in through Keycloak's real login pages, as a person would."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page

from tests.e2e.deployment import Deployment


def sign_in(
    page: Page,
    deployment: Deployment,
    username: str,
    password: str,
    new_password: str | None = None,
) -> None:
    """Open MLflow, get sent to the realm's login page, sign in, land back in MLflow."""
    page.goto(deployment.mlflow_url)
    page.wait_for_url(f"{deployment.keycloak_url}/realms/{deployment.realm}/**", timeout=30_000)
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")
    if new_password is not None:
        page.wait_for_selector("#password-new", timeout=30_000)
        page.fill("#password-new", new_password)
        page.fill("#password-confirm", new_password)
        page.click("[type=submit]")
    page.wait_for_url(
        lambda url: url.startswith(deployment.mlflow_url) and "/callback" not in url,
        timeout=60_000,
    )


def current_user(context: BrowserContext, deployment: Deployment) -> dict[str, object]:
    """MLflow's idea of who the browser's session belongs to."""
    response = context.request.get(f"{deployment.mlflow_url}/api/2.0/mlflow/users/current")
    assert response.status == 200, response.text()
    user: dict[str, object] = response.json()
    return user
