"""LDAP federation: people of a real OpenLDAP directory (Debian's slapd, images/ldap) sign in
to MLflow in the browser with their directory password, land in the team their directory
group names; once deleted from the directory or taken out of their team's group,
`stackctl users reconcile` ends their MLflow tokens and sessions and they are refused.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext
from pulumi import automation as auto

from stackrules.versions import pinned_versions
from tests.e2e.browser_login import current_user, sign_in
from tests.e2e.team_data import ensure_experiment
from tests.support.deployment import PREFIX, Deployment, docker, log, poll

BASE = "dc=corp,dc=example"
CONTAINER = f"{PREFIX}-ldap"
ADMIN = f"cn=admin,{BASE}"
# uid -> the directory group (named like a team) they are in.
PEOPLE = {"lee": "data-science", "fay": "finance"}
READ = "/api/2.0/mlflow/experiments/get-by-name?experiment_name="
TOKENS = "/api/2.0/mlflow/users/access-token"
CURRENT = "/api/2.0/mlflow/users/current"


def _ldap(tool: str, admin_password: str, ldif: str = "", *args: str) -> None:
    """An ldap-utils command inside the directory's container, bound as its admin."""
    command = ["docker", "exec", "-i", CONTAINER, tool, "-x", "-H", "ldap://127.0.0.1"]
    done = subprocess.run(
        [*command, "-D", ADMIN, "-w", admin_password, *args],
        input=ldif,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"{tool} failed: {done.stderr}"


def _people_ldif(passwords: dict[str, str]) -> str:
    entries = [
        f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for uid, password in passwords.items():
        entries.append(
            f"dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {uid.title()}\nsn: Directory\nmail: {uid}@corp.example\n"
            f"userPassword: {password}\n"
        )
    for uid, group in PEOPLE.items():
        entries.append(
            f"dn: cn={group},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {group}\n"
            f"member: uid={uid},ou=people,{BASE}\n"
        )
    return "\n".join(entries)


@pytest.fixture(scope="module")
def directory(deployment: Deployment) -> Iterator[dict[str, str]]:
    """The directory on the stack's network (as `ldap`), seeded, federated by the stack; the
    stack goes back to no directory afterwards. Yields each person's directory password."""
    admin_password = secrets.token_urlsafe(18)
    passwords = {uid: "Ld4p-" + secrets.token_urlsafe(12) for uid in PEOPLE}
    docker("rm", "-f", CONTAINER, check=False)
    docker(
        "run", "-d", "--name", CONTAINER, "--network", f"{PREFIX}-net", "--network-alias", "ldap",
        "-e", f"LDAP_BASE_DN={BASE}", "-e", f"LDAP_ADMIN_PASSWORD={admin_password}",
        pinned_versions()["LOCAL_LDAP_IMAGE"],
    )  # fmt: skip
    try:
        health = ("inspect", "-f", "{{.State.Health.Status}}", CONTAINER)
        poll(lambda: docker(*health).strip() == "healthy", 60, 1)
        _ldap("ldapadd", admin_password, _people_ldif(passwords))
        with deployment.mlflow(deployment.stack_admin_token()) as admin:
            for name in ("shared-baseline", "finance-q3"):
                ensure_experiment(admin, name)
        settings = {
            "connectionUrl": "ldap://ldap:389",
            "bindDn": ADMIN,
            "usersDn": f"ou=people,{BASE}",
            "groupsDn": f"ou=groups,{BASE}",
        }
        stack = deployment.stack
        for key, value in settings.items():
            stack.set_config(f"ldap[0].{key}", auto.ConfigValue(value), path=True)
        secret = auto.ConfigValue(admin_password, secret=True)
        stack.set_config("ldap[0].bindPassword", secret, path=True)
        deployment.up(log)
        yield {**passwords, "admin": admin_password}
        deployment.stack.remove_config("ldap")
        deployment.up(log)
    finally:
        docker("rm", "-f", CONTAINER, check=False)


def _sees(context: BrowserContext, deployment: Deployment, name: str) -> int:
    return int(context.request.get(f"{deployment.mlflow_url}{READ}{name}").status)


@pytest.mark.parametrize(
    ("uid", "visible", "hidden"),
    [("lee", "shared-baseline", "finance-q3"), ("fay", "finance-q3", "shared-baseline")],
)
def test_a_directory_person_signs_in_with_the_directory_password_into_their_team(
    deployment: Deployment,
    browser: Browser,
    directory: dict[str, str],
    uid: str,
    visible: str,
    hidden: str,
) -> None:
    context = browser.new_context()
    sign_in(context.new_page(), deployment, uid, directory[uid])
    assert current_user(context, deployment)["username"] == f"{uid}@corp.example"
    assert _sees(context, deployment, visible) == 200
    assert _sees(context, deployment, hidden) == 403
    admin = deployment.admin()
    user_id = str(admin.get_user_id(uid))
    assert [group["name"] for group in admin.get_user_groups(user_id)] == [PEOPLE[uid]]
    context.close()


def _access_token(context: BrowserContext, deployment: Deployment) -> str:
    """A personal access token minted in the browser's MLflow session (valid for a year)."""
    issued = context.request.patch(f"{deployment.mlflow_url}{TOKENS}", data={})
    assert issued.status == 200, issued.text()
    return str(issued.json()["token"])


def _reads_with(deployment: Deployment, uid: str, token: str, name: str) -> int:
    """What MLflow answers a client reading `name` with uid's personal access token."""
    auth = (f"{uid}@corp.example", token)
    return httpx.get(f"{deployment.mlflow_url}{READ}{name}", auth=auth, timeout=30).status_code


def _sign_in_refused(browser: Browser, deployment: Deployment, uid: str, password: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(deployment.mlflow_url)
    page.wait_for_url(f"{deployment.keycloak_url}/realms/{deployment.realm}/**")
    page.fill("#username", uid)
    page.fill("#password", password)
    page.click("#kc-login")
    # Keycloak 26's login theme (keycloak.v2) shows a refused sign-in under the field:
    # <div id="input-error-username" class="... pf-m-error">Invalid username or password.</div>
    refusal = page.wait_for_selector("[id^=input-error-]", timeout=30_000)
    assert refusal is not None and "Invalid username or password" in refusal.inner_text()
    assert page.url.startswith(f"{deployment.keycloak_url}/realms/{deployment.realm}/")
    assert context.request.get(f"{deployment.mlflow_url}{CURRENT}").status in (401, 403)
    context.close()


def _reconcile(deployment: Deployment) -> dict[str, dict[str, object]]:
    """`stackctl users reconcile --yes --json`: each offboarded account, by name."""
    result = deployment.stackctl("users", "reconcile", "--yes", "--json")
    assert result.exit_code == 0, result.output
    return {str(row["account"]): row for row in json.loads(result.output)}


def test_people_who_left_the_directory_are_offboarded_by_reconcile(
    deployment: Deployment, browser: Browser, directory: dict[str, str]
) -> None:
    contexts, tokens = {}, {}
    for uid in PEOPLE:
        contexts[uid] = browser.new_context()
        sign_in(contexts[uid].new_page(), deployment, uid, directory[uid])
        tokens[uid] = _access_token(contexts[uid], deployment)
    _ldap("ldapdelete", directory["admin"], "", f"uid=lee,ou=people,{BASE}")
    # The finding: deleted at the source, lee's token still reads a year long.
    assert _reads_with(deployment, "lee", tokens["lee"], "shared-baseline") == 200

    offboarded = _reconcile(deployment)
    assert offboarded["lee@corp.example"]["deactivate"] is True
    assert "gone from the directory" in str(offboarded["lee@corp.example"]["reason"])
    assert "fay@corp.example" not in offboarded
    assert not [name for name in offboarded if name.startswith("service-account-")]
    assert _reads_with(deployment, "lee", tokens["lee"], "shared-baseline") == 401
    lee_session = contexts["lee"].request.get(f"{deployment.mlflow_url}{CURRENT}")
    assert lee_session.status in (401, 403)
    assert deployment.admin().get_user_id("lee") is None
    _sign_in_refused(browser, deployment, "lee", directory["lee"])
    assert _reads_with(deployment, "fay", tokens["fay"], "finance-q3") == 200
    assert current_user(contexts["fay"], deployment)["username"] == "fay@corp.example"

    # Taken out of her directory group (her one team), fay may no longer sign in either.
    # groupOfNames needs a member: the directory's admin takes her place.
    ldif = f"dn: cn=finance,ou=groups,{BASE}\nchangetype: modify\nreplace: member\n"
    ldif += f"member: {ADMIN}\n"
    _ldap("ldapmodify", directory["admin"], ldif)
    assert _reads_with(deployment, "fay", tokens["fay"], "finance-q3") == 200
    offboarded = _reconcile(deployment)
    assert offboarded["fay@corp.example"]["reason"] == "in none of MLflow's groups"
    assert _reads_with(deployment, "fay", tokens["fay"], "finance-q3") == 401
    assert "lee@corp.example" not in offboarded, "offboarded once, not again"
    for context in contexts.values():
        context.close()
