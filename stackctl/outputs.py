"""Where stackctl's URLs and credentials come from: the stack's outputs, never the keyboard.

Two sources give the same JSON object: the Pulumi stack itself, read through the Automation
API with the environment `scripts/up.sh` uses, or a file written by
`scripts/pulumi.sh stack output --json --show-secrets` for machines without the Pulumi CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from stackctl.errors import StackctlError
from stackrules.local_state import backend_env, cache_dir
from stackrules.mlflow_admin import AdminClient
from stackrules.outputs import SECRET_OUTPUTS, Output
from stackrules.versions import pin

if TYPE_CHECKING:
    from pulumi import automation as auto

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Pulumi prints this in place of a secret unless asked for --show-secrets.
HIDDEN_SECRET = "[secret]"


class DatabaseStore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    purpose: Literal["tracking", "permissions", "identities"]
    database: str
    owner: str
    container: str


class ArtifactStore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    container: str
    path: str


class DataStores(BaseModel):
    """Where the stack keeps what a backup must copy, and the services writing it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    databases: list[DatabaseStore]
    artifacts: ArtifactStore
    services: list[str]

    def database(self, purpose: str) -> DatabaseStore:
        return next(store for store in self.databases if store.purpose == purpose)


class StackOutputs(BaseModel):
    """The outputs of a deployed stack that stackctl needs, typed; secrets stay SecretStr."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    mlflow_url: str = Field(validation_alias=Output.MLFLOW_URL)
    keycloak_url: str = Field(validation_alias=Output.KEYCLOAK_URL)
    issuer: str = Field(validation_alias=Output.ISSUER)
    realm: str = Field(validation_alias=Output.REALM)
    client_id: str = Field(validation_alias=Output.CLIENT_ID)
    client_secret: SecretStr = Field(validation_alias=Output.CLIENT_SECRET)
    keycloak_admin_username: str = Field(validation_alias=Output.KEYCLOAK_ADMIN_USERNAME)
    keycloak_admin_password: SecretStr = Field(validation_alias=Output.KEYCLOAK_ADMIN_PASSWORD)
    automation_client_id: str | None = Field(None, validation_alias=Output.AUTOMATION_CLIENT_ID)
    automation_client_secret: SecretStr | None = Field(
        None, validation_alias=Output.AUTOMATION_CLIENT_SECRET
    )
    # The edge proxy's loopback listeners (TLS on) or the services themselves; the stack's CA
    # (tls: internal). Absent from stacks deployed earlier.
    keycloak_admin_url: str | None = Field(None, validation_alias=Output.KEYCLOAK_ADMIN_URL)
    mlflow_admin_url: str | None = Field(None, validation_alias=Output.MLFLOW_ADMIN_URL)
    root_ca_certificate: str | None = Field(None, validation_alias=Output.ROOT_CA_CERTIFICATE)
    # stackctl's realm-scoped account; absent from stacks deployed earlier (then stackctl signs
    # in as the master realm's bootstrap admin, as it used to).
    stackctl_client_id: str | None = Field(None, validation_alias=Output.STACKCTL_CLIENT_ID)
    stackctl_client_secret: SecretStr | None = Field(
        None, validation_alias=Output.STACKCTL_CLIENT_SECRET
    )
    # The stack's own MLflow administrator (offboarding); absent from stacks deployed earlier.
    stack_admin_client_id: str | None = Field(None, validation_alias=Output.STACK_ADMIN_CLIENT_ID)
    # The groups that admit to MLflow (admin, user, teams); absent from stacks deployed earlier.
    mlflow_groups: list[str] | None = Field(None, validation_alias=Output.MLFLOW_GROUPS)
    stack_admin_client_secret: SecretStr | None = Field(
        None, validation_alias=Output.STACK_ADMIN_CLIENT_SECRET
    )
    # What backup and restore copy; absent from stacks deployed earlier.
    data_stores: DataStores | None = Field(None, validation_alias=Output.DATA_STORES)

    @property
    def keycloak_admin(self) -> str:
        """Where Keycloak's admin API answers this host (never on the public HTTPS name)."""
        return self.keycloak_admin_url or self.keycloak_url

    def ca_bundle(self) -> str | bool:
        """What to verify the stack's HTTPS with: a file of its CA (tls: internal), else the
        system's trust."""
        if not self.root_ca_certificate:
            return True
        digest = hashlib.sha256(self.root_ca_certificate.encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"mlflow-stack-ca-{digest}.pem"
        path.write_text(self.root_ca_certificate)
        return str(path)

    def admitted_groups(self) -> list[str]:
        """The groups MLflow admits (its admin group, its user group, every team)."""
        if self.mlflow_groups is None:
            raise StackctlError(
                "the stack has no mlflowGroups output (deployed by an older version); run "
                "`pulumi up` once, then export the outputs again"
            )
        return self.mlflow_groups

    def mlflow_admin(self) -> AdminClient:
        """The plugin's admin API as the stack's admin client calls it."""
        if self.stack_admin_client_id is None or self.stack_admin_client_secret is None:
            raise StackctlError(
                "the stack has no stackAdminClientId/stackAdminClientSecret outputs (deployed "
                "by an older version); run `pulumi up` once, then export the outputs again"
            )
        keycloak = self.keycloak_admin
        return AdminClient(
            mlflow_url=self.mlflow_admin_url or self.mlflow_url,
            token_url=f"{keycloak}/realms/{self.realm}/protocol/openid-connect/token",
            client_id=self.stack_admin_client_id,
            client_secret=self.stack_admin_client_secret.get_secret_value(),
        )


def parse_outputs(values: Mapping[str, Any], source: str, fix: str) -> StackOutputs:
    """Validate raw outputs; name every missing or unusable one and say how to fix it."""
    hidden = sorted(name for name in SECRET_OUTPUTS if values.get(name) == HIDDEN_SECRET)
    if hidden:
        raise StackctlError(
            f"{source} shows {', '.join(hidden)} as {HIDDEN_SECRET!r}; "
            "export the outputs with --show-secrets"
        )
    try:
        return StackOutputs.model_validate(dict(values))
    except ValidationError as error:
        missing = [str(e["loc"][0]) for e in error.errors() if e["type"] == "missing"]
        unusable = [f"{e['loc'][0]} ({e['msg']})" for e in error.errors() if e["type"] != "missing"]
        problems = []
        if missing:
            problems.append(f"missing output(s) {', '.join(missing)}")
        if unusable:
            problems.append(f"unusable output(s) {', '.join(unusable)}")
        raise StackctlError(f"{source}: {'; '.join(problems)}; {fix}") from None


def load_outputs_file(path: Path, stack: str = "dev") -> StackOutputs:
    """Outputs from a JSON file, as `pulumi stack output --json --show-secrets` writes it."""
    write_it = (
        f"write it (readable by you alone: it holds secrets) with: (umask 077; "
        f"scripts/pulumi.sh stack output --json --show-secrets --stack {stack} > {path})"
    )
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackctlError(f"outputs file {path} does not exist; {write_it}") from None
    except OSError as error:
        raise StackctlError(f"cannot read outputs file {path}: {error.strerror}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise StackctlError(
            f"outputs file {path} is not valid JSON (line {error.lineno}, column {error.colno}:"
            f" {error.msg}); {write_it}"
        ) from None
    if not isinstance(values, dict):
        raise StackctlError(f"outputs file {path} must hold a JSON object; {write_it}")
    return parse_outputs(values, f"outputs file {path}", write_it)


def pulumi_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables scripts/lib.sh `ensure_pulumi_env` would add to this environment.

    Only unset ones are filled in, so an operator's own backend or passphrase wins, and
    stackctl reads the same state as `scripts/up.sh` run in the same shell. Unlike the script,
    it never generates a passphrase: a missing one means the stack was never deployed here.
    """
    return backend_env(environ)


def pulumi_cli_root(environ: Mapping[str, str]) -> str | None:
    """None for the `pulumi` on PATH, else the root of the CLI scripts/toolchain.sh set up."""
    if shutil.which("pulumi", path=environ.get("PATH")):
        return None
    root = cache_dir(environ) / "pulumi" / pin("PULUMI_VERSION")
    if (root / "bin" / "pulumi").exists():
        return str(root)
    raise StackctlError(
        "no pulumi CLI on PATH nor in the toolchain cache: run scripts/up.sh (it sets one up), "
        "or pass --outputs-file"
    )


def _pulumi_message(error: Exception) -> str:
    """The CLI's own error line out of an Automation API exception's text."""
    text = str(error)
    stderr = text.split("stderr:", 1)[-1]
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    found = next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "")
    return re.sub(r"^error:\s*", "", found)


def _environment(environ: Mapping[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """The environment `scripts/up.sh` uses: all of it, and what it adds to `environ`."""
    environ = dict(os.environ if environ is None else environ)
    added = pulumi_environment(environ)
    return {**environ, **added}, added


def _workspace_options(env: Mapping[str, str], added: dict[str, str]) -> auto.LocalWorkspaceOptions:
    """The Automation API's options for that environment, with the CLI it finds."""
    from pulumi import automation as auto

    root = pulumi_cli_root(env)
    command = auto.PulumiCommand(root=root) if root else auto.PulumiCommand()
    return auto.LocalWorkspaceOptions(pulumi_command=command, env_vars=added)


def _no_state(message: str, backend: str) -> StackctlError | None:
    if "state directory" in message or "no such file" in message:
        return StackctlError(
            f"no Pulumi state at {backend}: the stack is not deployed here; run scripts/up.sh"
        )
    return None


def selected_stack(
    project_dir: Path = PROJECT_DIR, environ: Mapping[str, str] | None = None
) -> str:
    """The stack `pulumi` would work on in project_dir (`pulumi stack select`'s choice)."""
    from pulumi import automation as auto

    env, added = _environment(environ)
    backend = env["PULUMI_BACKEND_URL"]
    chosen = _workspace_options(env, added)
    try:
        workspace = auto.LocalWorkspace(
            work_dir=str(project_dir),
            pulumi_command=chosen.pulumi_command,
            env_vars=chosen.env_vars,
        )
        summary = workspace.stack()
    except auto.CommandError as error:
        message = _pulumi_message(error)
        raise _no_state(message, backend) or StackctlError(
            f"cannot ask Pulumi for the selected stack: {message}; name one with --stack"
        ) from None
    if summary is None:
        raise StackctlError(
            f"no Pulumi stack is selected in {project_dir} on {backend}: name one with "
            "--stack NAME, or select it: scripts/pulumi.sh stack select NAME"
        )
    return summary.name


@contextmanager
def pulumi_stack(
    stack: str, environ: Mapping[str, str] | None = None, project_dir: Path = PROJECT_DIR
) -> Iterator[auto.Stack]:
    """The deployed stack through the Automation API, with the environment `scripts/up.sh`
    uses; a Pulumi failure inside the block becomes a StackctlError that says how to fix it."""
    # Imported here: the Automation API takes a second to import, and --outputs-file and
    # --help need none of it.
    from pulumi import automation as auto

    env, added = _environment(environ)
    backend = env["PULUMI_BACKEND_URL"]
    passphrase_file = added.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if passphrase_file and not Path(passphrase_file).exists():
        raise StackctlError(
            f"no stack passphrase in {passphrase_file}: stack {stack!r} was not deployed from "
            "this account; run scripts/up.sh, or set PULUMI_CONFIG_PASSPHRASE(_FILE)"
        )
    try:
        selected = auto.select_stack(
            stack_name=stack, work_dir=str(project_dir), opts=_workspace_options(env, added)
        )
    except auto.StackNotFoundError:
        raise StackctlError(
            f"no stack {stack!r} in {backend}: deploy it with scripts/up.sh {stack}, "
            "or name a deployed one with --stack"
        ) from None
    except auto.CommandError as error:
        message = _pulumi_message(error)
        raise _no_state(message, backend) or _failure(stack, message, passphrase_file) from None
    try:
        yield selected
    except auto.CommandError as error:
        # A command of the block (outputs, up, import) failed on a stack that is there.
        raise _failure(stack, _pulumi_message(error), passphrase_file) from None


def _failure(stack: str, message: str, passphrase_file: str | None) -> StackctlError:
    if "passphrase" in message:
        source = passphrase_file or "PULUMI_CONFIG_PASSPHRASE(_FILE)"
        return StackctlError(
            f"wrong passphrase for stack {stack!r}: {source} does not decrypt its secrets; "
            "use the passphrase scripts/up.sh deployed it with"
        )
    return StackctlError(f"pulumi failed on stack {stack!r}: {message}")


def stack_outputs(selected: auto.Stack) -> StackOutputs:
    """The outputs of a stack opened with pulumi_stack."""
    name = selected.name
    raw = selected.outputs()
    if not raw:
        raise StackctlError(
            f"stack {name!r} has no outputs: it is not deployed; run scripts/up.sh {name}"
        )
    values = {key: output.value for key, output in raw.items()}
    return parse_outputs(values, f"stack {name!r}", f"run scripts/up.sh {name} to update it")


def load_stack_outputs(
    stack: str, environ: Mapping[str, str] | None = None, project_dir: Path = PROJECT_DIR
) -> StackOutputs:
    """Outputs of a deployed stack through the Automation API (`pulumi stack output`)."""
    with pulumi_stack(stack, environ, project_dir) as selected:
        return stack_outputs(selected)
