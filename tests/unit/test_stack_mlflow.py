"""What MLflow is told and what the stack exports, on the real program under Pulumi's mock
engine."""

from __future__ import annotations

from pathlib import Path

import pulumi

from stackctl.outputs import StackOutputs
from stackrules.outputs import SECRET_OUTPUTS, Output
from tests.support.harness import DeclaredStack, resolve, run_program
from tests.unit.declared import (
    CONTAINER,
    KUBERNETES,
    envs_of,
    is_secret,
)


def test_mlflow_discovers_keycloak_internally_while_the_issuer_is_the_browsers(
    stack: DeclaredStack,
) -> None:
    env = envs_of(stack, "mlflow")
    assert env["OIDC_DISCOVERY_URL"] == (
        "http://keycloak:8080/realms/mlflow/.well-known/openid-configuration"
    )
    assert env["OIDC_ISSUER"] == "http://localhost:8080/realms/mlflow"
    assert env["OIDC_AUDIENCE"] == "mlflow"


def test_mlflow_gets_every_oidc_setting_from_the_realm(stack: DeclaredStack) -> None:
    env = envs_of(stack, "mlflow")
    assert env["OIDC_CLIENT_ID"] == "mlflow"
    # The stack's own secret, which Keycloak's client is given: MLflow need not wait for it.
    assert env["OIDC_CLIENT_SECRET"] == "generated-mlflow-client-secret"
    assert env["OIDC_REDIRECT_URI"] == "http://localhost:5000/callback"
    assert env["OIDC_GROUPS_ATTRIBUTE"] == "groups"
    assert env["OIDC_GROUP_NAME"] == "mlflow"
    assert env["OIDC_ADMIN_GROUP_NAME"] == "mlflow-admin"
    assert env["DEFAULT_MLFLOW_PERMISSION"] == "NO_PERMISSIONS"
    assert env["AUTOMATIC_LOGIN_REDIRECT"] == "true"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert env["SECRET_KEY"] == "generated-mlflow-secret-key"
    assert env["OIDC_USERS_DB_URI"].endswith("@mlflow-db:5432/mlflow_auth")
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://mlflow:")
    assert env["MLFLOW_BACKEND_STORE_URI"].endswith("@mlflow-db:5432/mlflow")


def test_mlflow_runs_the_oidc_auth_app(stack: DeclaredStack) -> None:
    command = stack.one(CONTAINER, "mlflow").inputs["command"]
    assert command[:3] == ["server", "--app-name", "oidc-auth"]
    assert command[command.index("--artifacts-destination") + 1] == "/var/lib/mlflow/artifacts"


def test_container_envs_holding_secrets_reach_the_engine_as_secrets(stack: DeclaredStack) -> None:
    for container in stack.of_type(CONTAINER):
        assert is_secret(container.inputs["envs"]), container.name


def test_secret_exports_stay_secret_and_urls_stay_plain(stack: DeclaredStack) -> None:
    exports = stack.exports
    for key in ("clientSecret", "keycloakAdminPassword", "userInitialPasswords"):
        assert resolve(exports[key])[1] is True, key
    for key in ("mlflowUrl", "keycloakUrl", "issuer"):
        assert isinstance(exports[key], str), key  # plain, readable in `stack output`
    passwords, _ = resolve(exports["userInitialPasswords"])
    assert set(passwords) == {"ada", "alan"}


def test_exports_name_every_url_and_hide_every_secret(stack: DeclaredStack) -> None:
    values = {name: resolve(pulumi.Output.from_input(v)) for name, v in stack.exports.items()}
    secret = {name for name, (_, is_secret_output) in values.items() if is_secret_output}
    assert secret == {
        "clientSecret",
        "keycloakAdminPassword",
        "userInitialPasswords",
        "stackAdminClientSecret",
        "stackctlClientSecret",
    }
    assert values["mlflowUrl"][0] == "http://localhost:5000"
    assert values["keycloakUrl"][0] == "http://localhost:8080"
    assert values["keycloakAdminConsoleUrl"][0] == "http://localhost:8080/admin/master/console/"
    assert values["issuer"][0] == "http://localhost:8080/realms/mlflow"
    assert values["clientId"][0] == "mlflow"
    # What `stackctl users reconcile` admits by: the admin group, the user group, each team.
    assert values["mlflowGroups"][0][:2] == ["mlflow-admin", "mlflow"]


def test_mlflow_runs_the_configured_number_of_workers(stack: DeclaredStack) -> None:
    def workers(deployed: DeclaredStack) -> str:
        command = deployed.one(CONTAINER, "mlflow").inputs["command"]
        return str(command[command.index("--workers") + 1])

    assert workers(stack) == "1"
    assert workers(run_program({"mlflowWorkers": "3"})) == "3"


def test_the_log_level_reaches_mlflow_on_both_targets(stack: DeclaredStack) -> None:
    def on_kubernetes(deployed: DeclaredStack) -> dict[str, str]:
        deployment = deployed.one("kubernetes:apps/v1:Deployment").inputs
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        return {env["name"]: env["value"] for env in container["env"]}

    assert envs_of(stack, "mlflow")["MLFLOW_LOGGING_LEVEL"] == "INFO"
    debug = {"mlflowLogLevel": "DEBUG"}
    assert envs_of(run_program(debug), "mlflow")["MLFLOW_LOGGING_LEVEL"] == "DEBUG"
    assert on_kubernetes(run_program(KUBERNETES))["MLFLOW_LOGGING_LEVEL"] == "INFO"
    assert on_kubernetes(run_program({**KUBERNETES, **debug}))["MLFLOW_LOGGING_LEVEL"] == "DEBUG"


def test_the_outputs_follow_their_contract(stack: DeclaredStack) -> None:
    """What the stack exports and stackctl reads are names of stackrules.outputs, and what the
    stack keeps secret is what the contract calls secret (automation's secret: its client is
    not in the default stack)."""
    with_automation = run_program({"automationClientId": "ci"})
    exported = set(with_automation.exports)
    assert exported <= set(Output)
    values = {
        name: resolve(pulumi.Output.from_input(v)) for name, v in with_automation.exports.items()
    }
    assert {name for name, (_, secret) in values.items() if secret} == SECRET_OUTPUTS
    read = {str(field.validation_alias) for field in StackOutputs.model_fields.values()}
    assert read <= exported | {Output.ROOT_CA_CERTIFICATE}  # the CA: with tls internal only


def test_every_output_is_in_the_operators_table_with_its_secrecy() -> None:
    """docs/operations.md lists every name of the contract, each secret one marked so."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    table = text.split("| output | what |", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = {name: next((row for row in table if f"`{name}`" in row), "") for name in Output}
    assert [name for name, row in rows.items() if not row] == []
    for name in SECRET_OUTPUTS:
        assert f"`{name}` (secret)" in rows[name], rows[name]
