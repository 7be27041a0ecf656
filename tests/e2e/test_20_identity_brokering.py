"""Identity brokering: a person of a corporate IdP signs in to MLflow with its button and lands
in the team their IdP group maps to.

The corporate IdP is a second realm (`corp`) of the stack's own Keycloak, set up here through
the admin API the way a corporate IdP's admin would register MLflow's Keycloak as a client.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
from keycloak import KeycloakAdmin
from playwright.sync_api import Browser, Page
from pulumi import automation as auto

from components.keycloak_app import HTTP_PORT
from stackrules.names import config_key
from tests.e2e.browser_login import current_user, enrol_authenticator
from tests.e2e.team_data import ensure_experiment
from tests.support.deployment import Deployment, log

CORP = "corp"
BROKER_CLIENT = "mlflow-broker"
CORP_GROUP = "corp-data-science"
READ = "/api/2.0/mlflow/experiments/get-by-name?experiment_name="
TOKENS = "/api/2.0/mlflow/users/access-token"
PERSON = {
    "username": "carol",
    "email": "carol@corp.example",
    "firstName": "Carol",
    "lastName": "Corp",
}


def _corp_admin(deployment: Deployment) -> KeycloakAdmin:
    admin = KeycloakAdmin(
        server_url=str(deployment.outputs["keycloakAdminUrl"]),
        username=deployment.outputs["keycloakAdminUsername"],
        password=deployment.outputs["keycloakAdminPassword"],
        realm_name="master",
        user_realm_name="master",
    )
    return admin


def _set_up_corp_realm(deployment: Deployment, client_secret: str, password: str) -> None:
    admin = _corp_admin(deployment)
    admin.create_realm({"realm": CORP, "enabled": True}, skip_exists=True)
    admin.change_current_realm(CORP)
    broker_endpoint = f"{deployment.keycloak_url}/realms/{deployment.realm}/broker/{CORP}/endpoint"
    client = admin.create_client(
        {
            "clientId": BROKER_CLIENT,
            "protocol": "openid-connect",
            "publicClient": False,
            "secret": client_secret,
            "standardFlowEnabled": True,
            "redirectUris": [broker_endpoint],
        },
        skip_exists=True,
    )
    admin.add_mapper_to_client(
        client,
        {
            "name": "groups",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-group-membership-mapper",
            "config": {
                "claim.name": "groups",
                "full.path": "false",
                "id.token.claim": "true",
                "access.token.claim": "true",
                "userinfo.token.claim": "true",
            },
        },
    )
    group = admin.create_group({"name": CORP_GROUP}, skip_exists=True)
    user = admin.create_user(
        {
            **PERSON,
            "enabled": True,
            "emailVerified": True,
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        },
        exist_ok=True,
    )
    admin.group_user_add(user, str(group))


@pytest.fixture(scope="module")
def corp_password(deployment: Deployment) -> Iterator[str]:
    """The corp realm with carol in corp-data-science, brokered by the stack as `corp`; the
    stack goes back to no IdP afterwards."""
    with deployment.mlflow(deployment.stack_admin_token()) as admin:
        for name in ("shared-baseline", "finance-q3"):
            ensure_experiment(admin, name)
    client_secret, password = secrets.token_urlsafe(24), "C0rp-" + secrets.token_urlsafe(12)
    _set_up_corp_realm(deployment, client_secret, password)
    stack = deployment.stack
    where = "identityProviders[0]"
    settings = {
        "alias": CORP,
        "displayName": "corp",
        "discoveryUrl": f"http://keycloak:{HTTP_PORT}/realms/{CORP}/.well-known/openid-configuration",
        "clientId": BROKER_CLIENT,
        f"teams.{CORP_GROUP}": "data-science",
    }
    for key, value in settings.items():
        stack.set_config(f"{where}.{key}", auto.ConfigValue(value), path=True)
    stack.set_config(
        f"{where}.clientSecret", auto.ConfigValue(client_secret, secret=True), path=True
    )
    deployment.up(log)
    yield password
    stack.remove_config("identityProviders")
    deployment.up(log)
    _corp_admin(deployment).delete_realm(CORP)


def _sign_in_at_corp(page: Page, deployment: Deployment, password: str) -> None:
    """From MLflow to the stack's login, its corp button, and carol's corp password."""
    page.goto(deployment.mlflow_url)
    page.wait_for_url(f"{deployment.keycloak_url}/realms/{deployment.realm}/**")
    page.click(f"#social-{CORP}")
    page.wait_for_url(f"{deployment.keycloak_url}/realms/{CORP}/**")
    page.fill("#username", PERSON["username"])
    page.fill("#password", password)
    page.click("#kc-login")


def _in_mlflow(deployment: Deployment, url: str) -> bool:
    return url.startswith(deployment.mlflow_url) and "/callback" not in url


def test_the_client_secret_stays_secret_in_the_stack_config(
    deployment: Deployment, corp_password: str
) -> None:
    stored = deployment.stack.get_all_config()[config_key("identityProviders")]
    assert stored.secret


def test_a_corp_person_signs_in_with_the_corp_button_and_lands_in_the_mapped_team(
    deployment: Deployment, browser: Browser, corp_password: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in_at_corp(page, deployment, corp_password)
    page.wait_for_url(lambda url: _in_mlflow(deployment, url), timeout=60_000)
    me = current_user(context, deployment)
    assert me["username"] == PERSON["email"]
    assert me["is_admin"] is False
    # The team's grants apply to her: READ on ^shared-, nothing on finance-.
    shared = context.request.get(f"{deployment.mlflow_url}{READ}shared-baseline")
    assert shared.status == 200, shared.text()
    finance = context.request.get(f"{deployment.mlflow_url}{READ}finance-q3")
    assert finance.status == 403, finance.text()
    # In the stack's realm she is a brokered member of the team.
    admin = deployment.admin()
    user_id = str(admin.get_user_id(PERSON["username"]))
    assert [group["name"] for group in admin.get_user_groups(user_id)] == ["data-science"]
    assert [link["identityProvider"] for link in admin.get_user_social_logins(user_id)] == [CORP]
    context.close()


def test_a_corp_person_in_a_team_that_needs_a_second_factor_gives_one_after_the_corp_sign_in(
    deployment: Deployment, browser: Browser, corp_password: str
) -> None:
    """The corp button leaves the realm's browser flow before its OTP step; the post-broker
    flow asks for the code instead, so a brokered member of a requireOtpFor team enrols an
    authenticator before she reaches MLflow."""
    key = config_key("requireOtpFor")
    before = deployment.stack.get_all_config().get(key)
    deployment.set_config("requireOtpFor", ["mlflow-admin", "data-science"])
    deployment.up(log)
    try:
        context = browser.new_context()
        page = context.new_page()
        _sign_in_at_corp(page, deployment, corp_password)
        page.wait_for_selector("#kc-totp-settings-form", timeout=60_000)
        assert not _in_mlflow(deployment, page.url)
        enrol_authenticator(page, deployment, PERSON["username"])
        page.wait_for_url(lambda url: _in_mlflow(deployment, url), timeout=60_000)
        assert current_user(context, deployment)["username"] == PERSON["email"]
        context.close()
    finally:
        if before is None:
            deployment.stack.remove_config("requireOtpFor")
        else:
            deployment.set_config("requireOtpFor", json.loads(before.value))
        deployment.up(log)


def test_a_corp_person_whose_link_is_deleted_is_offboarded_by_reconcile(
    deployment: Deployment, browser: Browser, corp_password: str
) -> None:
    """With her link to the IdP deleted (say, at the corp admin's request) carol has no way to
    sign in; her MLflow token read on until `stackctl users reconcile` ran."""
    context = browser.new_context()
    _sign_in_at_corp(context.new_page(), deployment, corp_password)
    context.pages[0].wait_for_url(lambda url: _in_mlflow(deployment, url), timeout=60_000)
    issued = context.request.patch(f"{deployment.mlflow_url}{TOKENS}", data={})
    assert issued.status == 200, issued.text()
    auth = (PERSON["email"], str(issued.json()["token"]))
    shared = f"{deployment.mlflow_url}{READ}shared-baseline"
    admin = deployment.admin()
    admin.delete_user_social_login(str(admin.get_user_id(PERSON["username"])), CORP)
    assert httpx.get(shared, auth=auth, timeout=30).status_code == 200

    result = deployment.stackctl("users", "reconcile", "--yes", "--json")
    assert result.exit_code == 0, result.output
    offboarded = {row["account"]: row for row in json.loads(result.output)}
    reason = "no password, directory entry or identity provider left"
    assert offboarded[PERSON["email"]]["reason"] == reason
    assert httpx.get(shared, auth=auth, timeout=30).status_code == 401
    me = context.request.get(f"{deployment.mlflow_url}/api/2.0/mlflow/users/current")
    assert me.status in (401, 403)
    context.close()
