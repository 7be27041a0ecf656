"""Revoking a person's Keycloak sessions ends their MLflow access within the token lifespan."""

from __future__ import annotations

import pytest
from keycloak.exceptions import KeycloakError
from playwright.sync_api import Browser

from tests.e2e.browser_login import sign_in
from tests.support.deployment import ACCESS_TOKEN_SECONDS, Deployment, poll

# mlflow-oidc-auth lets a session live until its token's expiry plus this leeway.
PLUGIN_LEEWAY_SECONDS = 30
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def test_revoked_sessions_lose_refresh_at_once_and_mlflow_access_within_the_lifespan(
    deployment: Deployment, browser: Browser, measurements: dict[str, float]
) -> None:
    tokens = deployment.user_tokens("alice")
    context = browser.new_context()
    sign_in(context.new_page(), deployment, "alice", deployment.set_known_password("alice"))

    def browser_allowed() -> bool:
        return context.request.get(f"{deployment.mlflow_url}{SEARCH}").status == 200

    with deployment.mlflow(tokens["access_token"]) as bearer:
        assert bearer.get(SEARCH).status_code == 200
        assert browser_allowed()

        admin = deployment.admin()
        user_id = deployment.user_id("alice")
        assert admin.get_sessions(user_id), "alice should have live Keycloak sessions"
        admin.user_logout(user_id)
        assert admin.get_sessions(user_id) == []

        with pytest.raises(KeycloakError):
            deployment.oidc().refresh_token(tokens["refresh_token"])

        bound = ACCESS_TOKEN_SECONDS + PLUGIN_LEEWAY_SECONDS + 15
        bearer_end = poll(lambda: bearer.get(SEARCH).status_code == 401, timeout=bound)
        session_end = bearer_end + poll(lambda: not browser_allowed(), timeout=bound - bearer_end)
    context.close()
    # Both measured from the revocation; the bound is the token lifespan plus the leeway.
    measurements["revocation -> MLflow refuses the bearer token (s)"] = bearer_end
    measurements["revocation -> MLflow refuses the browser session (s)"] = session_end
    print(f"after revocation: bearer refused at {bearer_end:.0f}s, session at {session_end:.0f}s")
