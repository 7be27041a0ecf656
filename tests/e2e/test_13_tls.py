"""HTTPS at the edge proxy (`tls: internal`), on the session's HTTPS stack, proven from outside.

The stack's CA (output rootCaCertificate) is trusted the way docs/https.md says: in the
browser's NSS database with certutil, and as a CA file for Python clients. Then: Chromium signs
in over HTTPS with no certificate error allowed; the session cookie is Secure and HttpOnly;
HSTS is sent; plain HTTP redirects; Keycloak's admin paths are refused on its public name;
only the proxy publishes MLflow and Keycloak; a forged X-Forwarded-For is not believed; the
stock MLflow client logs a run over HTTPS; a crashed proxy comes back by itself under load and
loses no acknowledged write.

The stack runs two MLflow servers (mlflowReplicas: 2) that the proxy balances round robin: a
browser signed in through one is served by both without signing in again, and a permission
granted through one reaches the other within the plugin's permission cache (30 s).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from mlflow.tracking import MlflowClient
from playwright.sync_api import Browser, Playwright

from stackrules.mlflow_admin import PatternGrant, create_pattern_grant, delete_pattern_grant
from stackrules.names import resource_prefix
from tests.e2e.browser_login import chromium_trusting, sign_in
from tests.e2e.faults import Load, crash, under_load
from tests.e2e.team_data import ensure_experiment
from tests.e2e.tls_stack import PORTS, STACK
from tests.support.deployment import Deployment, docker, log

FORGED = "203.0.113.77"
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


@pytest.fixture(scope="module")
def stack(tls_stack: Deployment) -> Deployment:
    return tls_stack


@pytest.fixture(scope="module")
def trusting_browser(stack: Deployment, playwright: Playwright) -> Iterator[Browser]:
    """Chromium with the stack's CA in its NSS database, as docs/https.md tells people to."""
    ca = stack.ca_file
    assert ca is not None, "tls: internal exports rootCaCertificate"
    with chromium_trusting(playwright, ca.read_text(), "mlflow-stack-ca") as browser:
        yield browser


def test_urls_are_https_on_separate_hostnames(stack: Deployment) -> None:
    assert stack.mlflow_url == "https://mlflow.localhost:18443"
    assert stack.keycloak_url == "https://auth.localhost:18443"
    assert stack.outputs["issuer"] == "https://auth.localhost:18443/realms/mlflow"


def test_the_browser_signs_in_over_https_and_gets_a_secure_httponly_cookie(
    stack: Deployment, trusting_browser: Browser
) -> None:
    context = trusting_browser.new_context()  # certificate errors are NOT ignored
    page = context.new_page()
    sign_in(page, stack, "alice", stack.set_known_password("alice"))
    cookies = {c["name"]: c for c in context.cookies(stack.mlflow_url)}
    print(f"MLflow's cookies after sign-in: {sorted(cookies)}")
    session = cookies["session"]
    assert session["secure"] is True and session["httpOnly"] is True, session
    assert session["sameSite"] == "Lax", session  # no cross-site request carries it
    assert session["domain"].lstrip(".") == "mlflow.localhost"
    # Through the browser's own network stack (Playwright's API requests would use Node's,
    # which knows nothing of the NSS database).
    answer = page.goto(f"{stack.mlflow_url}{SEARCH}")
    assert answer is not None and answer.status == 200
    assert "max-age=" in answer.headers["strict-transport-security"]
    context.close()


def test_keycloak_sends_hsts_and_hides_its_admin_paths(stack: Deployment) -> None:
    with httpx.Client(verify=stack.tls(), timeout=15) as client:
        discovery = client.get(
            f"{stack.keycloak_url}/realms/mlflow/.well-known/openid-configuration"
        )
        assert discovery.status_code == 200
        assert "max-age=" in discovery.headers["strict-transport-security"]
        refused = {
            path: client.get(f"{stack.keycloak_url}{path}").status_code
            for path in (
                "/admin/",
                "/admin/master/console/",
                "/ADMIN/master/console/",
                "//admin/realms/mlflow",
                "/realms/master/.well-known/openid-configuration",
                "/",
            )
        }
    print(f"public Keycloak paths that must be refused: {refused}")
    assert set(refused.values()) == {404}, refused


def test_plain_http_redirects_to_https(stack: Deployment) -> None:
    for host in ("mlflow.localhost", "auth.localhost"):
        answer = httpx.get(f"http://{host}:18880/some/path?x=1", follow_redirects=False)
        assert answer.status_code == 301
        assert answer.headers["location"] == f"https://{host}:18443/some/path?x=1"


def test_only_the_proxy_publishes_mlflow_and_keycloak(stack: Deployment) -> None:
    prefix = resource_prefix(STACK)
    for service in ("mlflow", "keycloak"):
        assert docker("port", f"{prefix}-{service}").strip() == "", service
    published = docker("port", f"{prefix}-proxy").split()
    print(f"the proxy's published ports: {published}")
    listening = subprocess.run(["ss", "-Htln"], capture_output=True, text=True, check=True)
    for port in PORTS.values():
        hosts = {
            line.split()[3].rpartition(":")[0]
            for line in listening.stdout.splitlines()
            if line.split()[3].endswith(f":{port}")
        }
        assert hosts == {"127.0.0.1"}, (port, hosts)


def test_a_forged_forwarded_for_is_not_believed(stack: Deployment) -> None:
    password = stack.set_known_password("alice")
    token_url = f"{stack.keycloak_url}/realms/mlflow/protocol/openid-connect/token"
    with httpx.Client(verify=stack.tls(), timeout=15, headers={"X-Forwarded-For": FORGED}) as c:
        granted = c.post(
            token_url,
            data={
                "grant_type": "password",
                "client_id": stack.outputs["clientId"],
                "client_secret": stack.outputs["clientSecret"],
                "username": "alice",
                "password": password,
            },
        )
        assert granted.status_code == 200, granted.text
        token = granted.json()["access_token"]
        assert (
            c.get(
                f"{stack.mlflow_url}{SEARCH}", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
    logins = stack.admin().get_events(query={"type": "LOGIN", "user": stack.user_id("alice")})
    addresses = {event.get("ipAddress") for event in logins}
    print(f"Keycloak's login events of alice came from {addresses}")
    assert addresses and FORGED not in addresses
    mlflow_log = docker("logs", "--tail", "200", f"{resource_prefix(STACK)}-mlflow")
    assert FORGED not in mlflow_log


def _address_on(network: str, container: str) -> str:
    """The container's address on `network`, which the host reaches from the bridge's gateway."""
    networks = json.loads(
        docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", container)
    )
    address: str = networks[network]["IPAddress"]
    return address


def test_forwarded_headers_from_the_host_itself_are_not_believed(stack: Deployment) -> None:
    """Any process on the Docker host reaches Keycloak and MLflow on their edge networks, from
    the bridge's gateway: only the proxy may send forwarded headers, not the gateway. Believed,
    a forged client address would dodge brute-force detection and put a lie in the audit trail,
    and a forged prefix would send browsers elsewhere."""
    prefix = resource_prefix(STACK)
    keycloak = _address_on(f"{prefix}-keycloak-edge-net", f"{prefix}-keycloak")
    forged = {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"}
    with httpx.Client(timeout=15, headers=forged) as client:
        refused = client.post(
            f"http://{keycloak}:8080/realms/mlflow/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": stack.outputs["clientId"],
                "client_secret": "a wrong secret",
                "username": "alice",
                "password": "a wrong password",
            },
        )
    assert refused.status_code in (400, 401), refused.text
    errors = stack.admin().get_events(query={"type": "LOGIN_ERROR", "max": 20})
    addresses = {event.get("ipAddress") for event in errors}
    print(f"Keycloak's latest login errors came from {addresses}")
    assert addresses and FORGED not in addresses

    mlflow = _address_on(f"{prefix}-mlflow-edge-net", f"{prefix}-mlflow")
    with httpx.Client(timeout=15, headers={"Accept": "text/html"}) as client:
        sent = client.get(f"http://{mlflow}:5000/?x=1", headers={"X-Forwarded-Prefix": "/forged"})
    print(f"MLflow sends a browser with a forged prefix to {sent.headers.get('location')}")
    assert sent.status_code == 302 and "/login" in sent.headers["location"]
    assert "/forged" not in sent.headers["location"]


def test_the_mlflow_client_logs_a_run_over_https(
    stack: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", stack.user_tokens("alice")["access_token"])
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(stack.ca_file))
    client = MlflowClient(tracking_uri=stack.mlflow_url)
    experiment_id = client.create_experiment(f"over-tls-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.5)
    client.set_terminated(run.info.run_id)
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def test_a_crashed_edge_proxy_comes_back_by_itself_and_loses_no_acknowledged_write(
    stack: Deployment, measurements: dict[str, float]
) -> None:
    """The fault list of tests/e2e/test_16_faults.py, for the container only this stack has."""
    prefix = resource_prefix(STACK)
    signed_in = stack.user_tokens("alice")
    with stack.mlflow(signed_in["access_token"]) as mlflow:
        pat = mlflow.patch("/api/2.0/mlflow/users/access-token", json={}).json()["token"]
        experiment_id = mlflow.post(
            "/api/2.0/mlflow/experiments/create", json={"name": f"proxy-{uuid.uuid4().hex[:8]}"}
        ).json()["experiment_id"]
        run_id = mlflow.post(
            "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}
        ).json()["run"]["info"]["run_id"]
    load = Load(stack, run_id, "alice", stack.set_known_password("alice"), pat)
    proxy = f"{prefix}-proxy"
    services = ("mlflow-db", "keycloak-db", "keycloak", "mlflow")
    containers = [proxy, *(f"{prefix}-{name}" for name in services)]
    fault = "crash of the edge proxy"
    outcome = under_load(load, fault, lambda: crash(proxy), containers, log, crashed=proxy)
    measurements["crash of the edge proxy: to healthy (s)"] = outcome.seconds_to_healthy
    measurements["crash of the edge proxy: failed requests"] = (
        outcome.failed_writes + outcome.failed_logins
    )
    assert outcome.acknowledged_writes > 0
    assert outcome.lost_writes == 0
    renewed = stack.oidc().refresh_token(signed_in["refresh_token"])
    with stack.mlflow(renewed["access_token"]) as mlflow:
        assert mlflow.get("/api/2.0/mlflow/users/current").status_code == 200


REPLICAS = ("mlflow", "mlflow-2")
# mlflow-oidc-auth's PERMISSION_CACHE_TTL_SECONDS default: how long a replica may answer from
# what it cached before a change made through another replica.
PERMISSION_CACHE_SECONDS = 30


def served_by(marker: str) -> list[str]:
    """The replicas whose access log holds the request that carried `marker` (a line may
    land in the log a moment after the answer)."""
    deadline = time.monotonic() + 5
    while True:
        found = []
        for replica in REPLICAS:
            logs = subprocess.run(
                ["docker", "logs", "--tail", "2000", f"{resource_prefix(STACK)}-{replica}"],
                capture_output=True,
                text=True,
                check=True,
            )
            if marker in logs.stdout + logs.stderr:
                found.append(replica)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_browser_session_is_served_by_both_replicas_without_a_new_sign_in(
    stack: Deployment, trusting_browser: Browser
) -> None:
    context = trusting_browser.new_context()
    page = context.new_page()
    sign_in(page, stack, "alice", stack.set_known_password("alice"))
    servers: dict[str, list[str]] = {}
    for _ in range(6):
        marker = uuid.uuid4().hex
        answer = page.goto(f"{stack.mlflow_url}/api/2.0/mlflow/users/current?probe={marker}")
        assert answer is not None and answer.status == 200, answer and answer.text()
        assert page.url.startswith(stack.mlflow_url)  # not sent back to Keycloak
        assert answer.json()["username"] == "alice@example.com"
        servers[marker] = served_by(marker)
    print(f"which replica served each request of the session: {list(servers.values())}")
    assert all(len(replicas) == 1 for replicas in servers.values()), servers
    assert {replicas[0] for replicas in servers.values()} == set(REPLICAS)
    context.close()


def test_a_permission_granted_through_one_replica_reaches_the_other_within_the_cache_bound(
    stack: Deployment,
) -> None:
    name = f"replica-{uuid.uuid4().hex[:8]}"
    with stack.mlflow(stack.stack_admin_token()) as admin:
        experiment_id = ensure_experiment(admin, name)

    def read_as_alice() -> dict[str, int]:
        """Two requests in a row (one per replica, round robin): each replica's answer."""
        answers: dict[str, int] = {}
        with stack.mlflow(str(stack.user_tokens("alice")["access_token"])) as alice:
            for _ in REPLICAS:
                marker = uuid.uuid4().hex
                status = alice.get(
                    "/api/2.0/mlflow/experiments/get",
                    params={"experiment_id": experiment_id, "probe": marker},
                ).status_code
                (replica,) = served_by(marker)
                answers[replica] = status
        return answers

    refused = read_as_alice()  # each replica now caches alice's lack of permission
    print(f"before the grant: {refused}")
    assert refused == dict.fromkeys(REPLICAS, 403)
    with stack.mlflow(stack.stack_admin_token()) as admin:
        grant = create_pattern_grant(
            admin,
            "user",
            "alice@example.com",
            "experiments",
            PatternGrant("", f"^{name}$", 100, "READ"),
        )
    granted_at = time.monotonic()
    seen: dict[str, float] = {}
    try:
        while len(seen) < len(REPLICAS) and time.monotonic() - granted_at < 2 * (
            PERMISSION_CACHE_SECONDS + 15
        ):
            for replica, status in read_as_alice().items():
                if status == 200:
                    seen.setdefault(replica, time.monotonic() - granted_at)
            time.sleep(1)
    finally:
        with stack.mlflow(stack.stack_admin_token()) as admin:
            delete_pattern_grant(admin, "user", "alice@example.com", "experiments", grant.id)
    print(f"seconds until each replica honoured the grant: {seen}")
    assert set(seen) == set(REPLICAS), seen
    assert max(seen.values()) <= PERMISSION_CACHE_SECONDS + 15, seen
