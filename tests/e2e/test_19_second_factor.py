"""A second factor for admins (requireOtpFor's default): enrolment at the first browser
sign-in, a code at every later one, nobody else asked.

mia is an admin who signs in nowhere else in the suite, so her first sign-in here is her first.
"""

from __future__ import annotations

import pyotp
from playwright.sync_api import Browser, BrowserContext, Page

from tests.e2e.browser_login import current_user, enrol_authenticator, give_second_factor
from tests.support.deployment import Deployment

LOGIN_TIMEOUT = 30_000
# Keycloak's brute-force detector: failures closer together than this count as a quick
# succession and lock the user out for its minimum wait.
QUICK_LOGIN_CHECK_MS = 1000


def _password_step(
    deployment: Deployment, browser: Browser, username: str
) -> tuple[BrowserContext, Page]:
    """A new browser at MLflow, sent to Keycloak, username and password given."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(deployment.mlflow_url)
    page.wait_for_url(f"{deployment.keycloak_url}/realms/{deployment.realm}/**")
    page.fill("#username", username)
    page.fill("#password", deployment.set_known_password(username))
    page.click("#kc-login")
    return context, page


def _in_mlflow(deployment: Deployment, url: str) -> bool:
    return url.startswith(deployment.mlflow_url) and "/callback" not in url


def test_an_admin_enrols_an_authenticator_at_the_first_sign_in(
    deployment: Deployment, browser: Browser
) -> None:
    context, page = _password_step(deployment, browser, "mia")
    # The password alone does not get her in: Keycloak asks her to set up an authenticator.
    page.wait_for_selector("#kc-totp-settings-form", timeout=LOGIN_TIMEOUT)
    assert not _in_mlflow(deployment, page.url)
    enrol_authenticator(page, deployment, "mia")
    page.wait_for_url(lambda url: _in_mlflow(deployment, url), timeout=LOGIN_TIMEOUT)
    assert current_user(context, deployment)["is_admin"] is True
    context.close()


def test_an_enrolled_admin_without_the_code_stays_at_the_login(
    deployment: Deployment, browser: Browser
) -> None:
    context, page = _password_step(deployment, browser, "mia")
    page.wait_for_selector("#otp", timeout=LOGIN_TIMEOUT)
    page.click("#kc-login")  # no code
    page.wait_for_selector("#otp", timeout=LOGIN_TIMEOUT)
    # Two failures within quickLoginCheckMilliSeconds (1 s) lock the account for a minute:
    # Keycloak's brute-force detection at work, which a person typing never trips.
    page.wait_for_timeout(QUICK_LOGIN_CHECK_MS + 500)
    current = int(pyotp.TOTP(deployment.authenticators["mia"].secret).now())
    page.fill("#otp", f"{(current + 1) % 1_000_000:06d}")
    page.click("#kc-login")  # a wrong code
    page.wait_for_selector("#otp", timeout=LOGIN_TIMEOUT)
    page.wait_for_timeout(QUICK_LOGIN_CHECK_MS + 500)
    assert not _in_mlflow(deployment, page.url)
    assert context.request.get(f"{deployment.mlflow_url}/api/2.0/mlflow/users/current").status in (
        401,
        403,
    )
    # The right code lets her in.
    give_second_factor(page, deployment, "mia")
    page.wait_for_url(lambda url: _in_mlflow(deployment, url), timeout=LOGIN_TIMEOUT)
    assert current_user(context, deployment)["is_admin"] is True
    context.close()


def test_a_plain_user_signs_in_with_a_password_alone(
    deployment: Deployment, browser: Browser
) -> None:
    context, page = _password_step(deployment, browser, "alice")
    page.wait_for_url(lambda url: _in_mlflow(deployment, url), timeout=LOGIN_TIMEOUT)
    assert current_user(context, deployment)["is_admin"] is False
    context.close()
