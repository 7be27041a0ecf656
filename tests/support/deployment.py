"""A real deployment of the stack for the end-to-end suite: the real Pulumi engine through its
Automation API, a file:// backend in a temporary directory, the policy pack on every preview and
update, the local Docker engine and the locally built images."""

from __future__ import annotations

import functools
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
from keycloak import KeycloakAdmin, KeycloakOpenID
from pulumi import automation as auto
from typer.testing import CliRunner, Result

from stackctl.cli import app as stackctl_app
from stackrules.names import config_key, resource_prefix
from stackrules.versions import pinned_versions
from tests.support.workdir import REPO, config_paths, copy_project

STACK = "e2e"
PREFIX = resource_prefix(STACK)
POLICY_PACK = str(REPO / "policy")
# The suite signs users in with the password grant (e2e_config's directAccessGrants), so it
# tells the pack that this one client may accept it: the policy-config file a user would write.
POLICY_CONFIG = str(Path(__file__).with_name("policy-config.json"))
CONTAINERS = tuple(
    f"{PREFIX}-{name}" for name in ("mlflow-db", "keycloak-db", "keycloak", "mlflow")
)
# Ports unlike the dev stack's, so the suite can run beside a developer's own stack.
PORTS = {"keycloakPort": 18080, "mlflowPort": 15000, "mlflowDbPort": 25432, "keycloakDbPort": 25433}
ACCESS_TOKEN_SECONDS = 60
AUTOMATION_CLIENT = "mlflow-automation"

USERS: list[dict[str, Any]] = [
    # bella signs in with the browser and must replace her temporary password.
    {"username": "bella", "email": "bella@example.com", "groups": ["mlflow"]},
    {"username": "alice", "email": "alice@example.com", "groups": ["mlflow"]},
    # Admins give a TOTP code at browser sign-in (requireOtpFor's default): adam enrols in
    # test_03; mia, who signs in nowhere else, in test_19_second_factor.py.
    {"username": "adam", "email": "adam@example.com", "groups": ["mlflow-admin"]},
    {"username": "mia", "email": "mia@example.com", "groups": ["mlflow-admin"]},
    {"username": "otto", "email": "otto@example.com", "groups": []},
    # lena leaves: tests/e2e/test_09_offboarding.py removes and disables her.
    {"username": "lena", "email": "lena@example.com", "groups": ["mlflow"]},
    # dana is in a team only: the team admits her (tests/e2e/test_18_teams_permissions.py).
    {"username": "dana", "email": "dana@example.com", "groups": [], "teams": ["data-science"]},
]
TEAMS = [
    {"name": "data-science", "description": "Churn and forecasting"},
    {"name": "finance", "description": "Quarterly reporting"},
]
# What the data-science team may do, as code (the worked example).
PERMISSIONS: list[dict[str, Any]] = [
    {"team": "data-science", "resource": "experiments", "pattern": "^ds-", "level": "EDIT"},
    {"team": "data-science", "resource": "experiments", "pattern": "^shared-", "level": "READ"},
    {"team": "finance", "resource": "experiments", "pattern": "^finance-", "level": "READ"},
]


def e2e_config() -> dict[str, Any]:
    pins = pinned_versions()
    return {
        **PORTS,
        "postgresImage": pins["LOCAL_POSTGRES_IMAGE"],
        "keycloakImage": pins["LOCAL_KEYCLOAK_IMAGE"],
        "mlflowBaseImage": pins["LOCAL_PYTHON_IMAGE"],
        "accessTokenLifespan": f"{ACCESS_TOKEN_SECONDS}s",
        "directAccessGrants": True,
        "automationClientId": AUTOMATION_CLIENT,
        "users": [
            {**user, "firstName": str(user["username"]).title(), "lastName": "Tester"}
            for user in USERS
        ],
        "teams": TEAMS,
        "permissions": PERMISSIONS,
        # Test stacks are destroyed at the end; test_99_destroy proves the default (protected).
        "protectData": False,
    }


def log(line: str) -> None:
    """Progress of the engine and the suite, as it happens (shown by pytest's -rA)."""
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    sys.stdout.flush()


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def docker_inventory() -> dict[str, set[str]]:
    """Names of every container, network and volume the engine has."""
    return {
        "containers": set(docker("ps", "-a", "--format", "{{.Names}}").split()),
        "networks": set(docker("network", "ls", "--format", "{{.Name}}").split()),
        "volumes": set(docker("volume", "ls", "--format", "{{.Name}}").split()),
    }


def container_logs(tail: int = 60) -> str:
    out = []
    for name in CONTAINERS:
        done = subprocess.run(
            ["docker", "logs", "--tail", str(tail), name], capture_output=True, text=True
        )
        out.append(
            f"----- docker logs {name} (last {tail} lines) -----\n{done.stdout}{done.stderr}"
        )
    return "\n".join(out)


@dataclass
class Authenticator:
    """An authenticator app: the enrolment secret Keycloak showed, and the last code given
    (Keycloak refuses a code twice, so the next sign-in waits for a fresh one)."""

    secret: str
    last_code: str = ""

    def code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        while (code := totp.now()) == self.last_code:
            time.sleep(1)
        self.last_code = code
        return code


@dataclass
class Deployment:
    """The e2e stack deployed by the real Pulumi engine, and handles on its services."""

    stack: auto.Stack
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)
    test_passwords: dict[str, str] = field(default_factory=dict)
    # Each person's authenticator, once they enrolled one at a sign-in (browser_login.py).
    authenticators: dict[str, Authenticator] = field(default_factory=dict)
    destroyed: bool = False

    @classmethod
    def create(
        cls,
        workdir: Path,
        log: Callable[[str], None],
        stack_name: str = STACK,
        config: dict[str, Any] | None = None,
        project: Callable[[Path], None] = copy_project,
        secret_config: dict[str, str] | None = None,
        on_event: Callable[[auto.EngineEvent], None] | None = None,
        deploy: bool = True,
    ) -> Deployment:
        """A new stack of `project` (by default this checkout's) in workdir, brought up unless
        `deploy` is false; `secret_config` is set as `pulumi config set --secret` would;
        `on_event` gets the engine's events of that first `up`."""
        if not (Path(POLICY_PACK) / "venv" / "bin" / "python").exists():
            # Without its venv the CLI's --policy-pack hangs silently (scripts/lib.sh).
            raise RuntimeError(
                f"{POLICY_PACK}/venv is missing: run `bash scripts/toolchain.sh` in this checkout"
            )
        project(workdir)
        state = workdir / "state"
        state.mkdir()
        env = {
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # Plugin acquisition as the toolchain set it (off with MKS_PULUMI_MIRROR).
        }
        workspace = auto.LocalWorkspaceOptions(work_dir=str(workdir), env_vars=env)
        stack = auto.create_stack(stack_name, work_dir=str(workdir), opts=workspace)
        deployment = cls(stack=stack)
        deployment.set_configs(config or e2e_config())
        if secret_config:
            stack.set_all_config(
                {key: auto.ConfigValue(text, secret=True) for key, text in secret_config.items()}
            )
        if deploy:
            deployment.up(log, on_event=on_event)
        return deployment

    def set_config(self, key: str, value: Any) -> None:
        """Set one config key; a list or object replaces every entry the key had."""
        self.set_configs({key: value})

    def set_configs(self, values: dict[str, Any]) -> None:
        """Set config keys as set_config does, in two CLI calls rather than one per entry (a
        stack's people are dozens of `--path` entries)."""
        present = self.stack.get_all_config()
        for key in values:
            if config_key(key) in present:
                self.stack.remove_config(key)
        plain: dict[str, auto.ConfigValue] = {}
        nested: dict[str, auto.ConfigValue] = {}
        for key, value in values.items():
            for path, text in config_paths(key, value):
                (plain if path == key else nested)[path] = auto.ConfigValue(text)
        if plain:
            self.stack.set_all_config(plain)
        if nested:
            self.stack.set_all_config(nested, path=True)

    def up(
        self,
        log: Callable[[str], None],
        refresh: bool = False,
        on_event: Callable[[auto.EngineEvent], None] | None = None,
    ) -> auto.UpResult:
        """`pulumi up`; with refresh, as `up --refresh` (what undoes changes made by hand)."""
        started = time.monotonic()
        result = self.stack.up(
            on_output=log,
            on_event=on_event,
            color="never",
            refresh=refresh,
            policy_packs=[POLICY_PACK],
            policy_pack_configs=[POLICY_CONFIG],
        )
        self.timings.setdefault("first up (s)", time.monotonic() - started)
        self.reload_outputs()
        return result

    def reload_outputs(self) -> None:
        """The stack's outputs as its state holds them now (after an up, or a restore)."""
        outputs = self.stack.outputs()
        self.outputs = {key: value.value for key, value in outputs.items()}
        self.secret_outputs = {key for key, value in outputs.items() if value.secret}

    def preview(self, log: Callable[[str], None], **options: Any) -> auto.PreviewResult:
        return self.stack.preview(
            on_output=log,
            color="never",
            policy_packs=[POLICY_PACK],
            policy_pack_configs=[POLICY_CONFIG],
            **options,
        )

    def replace_mlflow_container(self, log: Callable[[str], None]) -> None:
        """A config change that alters MLflow's environment forces a new container; the
        stack then goes back to its declared config (another replacement)."""
        self.stack.set_config("defaultMlflowPermission", auto.ConfigValue("READ"))
        self.up(log)
        self.stack.remove_config("defaultMlflowPermission")
        self.up(log)

    def destroy(
        self, log: Callable[[str], None], on_event: Callable[[auto.EngineEvent], None] | None = None
    ) -> None:
        started = time.monotonic()
        self.stack.destroy(on_output=log, on_event=on_event, color="never")
        self.timings["destroy (s)"] = time.monotonic() - started
        self.destroyed = True

    def pulumi(self, *args: str) -> str:
        """The pulumi CLI on this stack (its backend and passphrase), for what the Automation
        API does not offer; its output is logged and returned."""
        workspace = self.stack.workspace
        done = subprocess.run(
            ["pulumi", *args, "--stack", self.stack.name, "--cwd", str(workspace.work_dir)],
            env={**os.environ, **workspace.env_vars},
            capture_output=True,
            text=True,
            check=False,
        )
        log(f"pulumi {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stackctl(self, *args: str) -> Result:
        """`stackctl --stack NAME --project-dir DIR ARGS` on this stack's state, as its operator
        runs it; the output is logged."""
        workspace = self.stack.workspace
        result = CliRunner().invoke(
            stackctl_app,
            ["--stack", self.stack.name, "--project-dir", str(workspace.work_dir), *args],
            env=dict(workspace.env_vars),
        )
        log(f"stackctl {' '.join(args)} -> {result.exit_code}\n{result.output}")
        return result

    # -- service handles -------------------------------------------------------------------
    @property
    def mlflow_url(self) -> str:
        return str(self.outputs["mlflowUrl"])

    @property
    def keycloak_url(self) -> str:
        return str(self.outputs["keycloakUrl"])

    @property
    def realm(self) -> str:
        return str(self.outputs["realm"])

    @functools.cached_property
    def ca_file(self) -> Path | None:
        """The stack's CA certificate as a file (tls: internal), for clients to verify with;
        written once (the CA lives as long as the stack)."""
        pem = self.outputs.get("rootCaCertificate")
        if not pem:
            return None
        path = Path(self.stack.workspace.work_dir) / "root-ca.pem"
        path.write_text(pem)
        return path

    def tls(self) -> ssl.SSLContext | bool:
        """What httpx verifies the stack's HTTPS with: its CA, or the system's trust."""
        ca = self.ca_file
        return ssl.create_default_context(cafile=str(ca)) if ca else True

    def admin(self) -> KeycloakAdmin:
        # Keycloak's admin API: on the edge proxy's loopback listener when TLS is on.
        return KeycloakAdmin(
            server_url=str(self.outputs.get("keycloakAdminUrl", self.keycloak_url)),
            username=self.outputs["keycloakAdminUsername"],
            password=self.outputs["keycloakAdminPassword"],
            realm_name=self.realm,
            user_realm_name="master",
        )

    def oidc(self, client_id: str | None = None, secret: str | None = None) -> KeycloakOpenID:
        ca = self.ca_file
        return KeycloakOpenID(
            server_url=self.keycloak_url,
            verify=str(ca) if ca else True,
            realm_name=self.realm,
            client_id=client_id or self.outputs["clientId"],
            client_secret_key=secret or self.outputs["clientSecret"],
        )

    def user_id(self, username: str) -> str:
        return str(self.admin().get_user_id(username))

    def set_known_password(self, username: str) -> str:
        """Give a user a permanent password only the test knows (an Admin API change)."""
        if username not in self.test_passwords:
            password = "T3st-" + secrets.token_urlsafe(18)
            self.admin().set_user_password(self.user_id(username), password, temporary=False)
            self.test_passwords[username] = password
        return self.test_passwords[username]

    def user_tokens(self, username: str) -> dict[str, Any]:
        """Access and refresh token of a user, by the password grant. Keycloak's direct-grant
        flow wants a TOTP code of a person who enrolled an authenticator (an admin, once they
        signed in with the browser): it is given, as the app would show it."""
        authenticator = self.authenticators.get(username)
        # As text, through `extra`: python-keycloak's own totp argument is an int, which would
        # drop a code's leading zeros.
        code: dict[str, Any] = {"totp": authenticator.code()} if authenticator else {}
        tokens: dict[str, Any] = self.oidc().token(
            username, self.set_known_password(username), **code
        )
        return tokens

    def stack_admin_token(self) -> str:
        """An access token of the stack's own MLflow admin (client credentials): an admin for
        tests that change MLflow's grants as a person would in the plugin's UI."""
        client = self.oidc(
            self.outputs["stackAdminClientId"], self.outputs["stackAdminClientSecret"]
        )
        return str(client.token(grant_type="client_credentials")["access_token"])

    def mlflow(
        self, token: str | None = None, basic: tuple[str, str] | None = None
    ) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.mlflow_url,
            headers=headers,
            auth=basic,
            verify=self.tls(),
            timeout=30,
            follow_redirects=False,
        )


def stack_objects(prefix: str = PREFIX) -> dict[str, list[str]]:
    """Every container, volume and network whose name marks it as a stack's (the e2e one)."""
    return {
        kind: sorted(name for name in names if name.startswith(f"{prefix}-"))
        for kind, names in docker_inventory().items()
    }


def remove_leftovers(log: Callable[[str], None], prefix: str = PREFIX) -> None:
    """Remove what a killed earlier run of the suite left of its own test stack (a fresh state
    backend knows nothing of it, and the next `up` would collide with the names)."""
    removal = {
        "containers": ("rm", "-f"),
        "volumes": ("volume", "rm"),
        "networks": ("network", "rm"),
    }
    # docker_inventory lists containers first: they hold the networks and volumes.
    for kind, names in stack_objects(prefix).items():
        if names:
            log(f"removing {kind} left by an earlier run of the suite: {', '.join(names)}")
            docker(*removal[kind], *names)


def poll(condition: Callable[[], bool], timeout: float, interval: float = 2.0) -> float:
    """Seconds until condition() first holds; TimeoutError past timeout."""
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if condition():
            return elapsed
        if elapsed > timeout:
            raise TimeoutError(f"condition not met within {timeout:.0f}s")
        time.sleep(interval)
