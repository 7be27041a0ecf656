"""Signing in through Keycloak's real login pages, as a person would."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.deployment import Authenticator, Deployment


def sign_in(
    page: Page,
    deployment: Deployment,
    username: str,
    password: str,
    new_password: str | None = None,
    second_factor: bool = False,
) -> None:
    """Open MLflow, get sent to the realm's login page, sign in, land back in MLflow. With
    second_factor, give a TOTP code after the password (enrolling at the first sign-in)."""
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
    if second_factor:
        give_second_factor(page, deployment, username)
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


def enrol_authenticator(page: Page, deployment: Deployment, username: str) -> None:
    """On Keycloak's "set up an authenticator" page: read the key as a person who cannot scan
    the QR code would, and confirm it with the app's first code."""
    page.click("#mode-manual")
    secret = page.inner_text("#kc-totp-secret-key").replace(" ", "")
    authenticator = deployment.authenticators[username] = Authenticator(secret)
    page.fill("#totp", authenticator.code())
    page.fill("#userLabel", "e2e phone")
    page.click("#saveTOTPBtn")


def give_second_factor(page: Page, deployment: Deployment, username: str) -> None:
    """Enrol on the first sign-in, else type the current code on the OTP page."""
    page.wait_for_selector("#totp, #otp", timeout=30_000)
    if page.locator("#kc-totp-settings-form").count():
        enrol_authenticator(page, deployment, username)
        return
    page.fill("#otp", deployment.authenticators[username].code())
    page.click("#kc-login")


@contextmanager
def chromium_trusting(playwright: Playwright, root_pem: str, nickname: str) -> Iterator[Browser]:
    """Chromium with `root_pem` in its NSS database (certutil), as docs/https.md tells people to
    trust a CA: no certificate error is ignored."""
    with tempfile.TemporaryDirectory() as home:
        nssdb = Path(home) / ".pki" / "nssdb"
        nssdb.mkdir(parents=True)
        root = Path(home) / "root.pem"
        root.write_text(root_pem)
        for step in (
            ["-N", "--empty-password"],
            ["-A", "-t", "C,,", "-n", nickname, "-i", str(root)],
        ):
            subprocess.run(["certutil", "-d", f"sql:{nssdb}", *step], check=True)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "HOME": home}
        )
        try:
            yield browser
        finally:
            browser.close()
