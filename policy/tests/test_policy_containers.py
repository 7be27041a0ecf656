"""Container rules as pure functions of plain properties (UNKNOWN where preview cannot know)."""

from __future__ import annotations

from typing import Any

import pytest
from stack_policies.containers import (
    default_permission,
    env_names_declared,
    env_names_unique,
    keycloak_production_mode,
    looks_secret,
    no_host_access,
    oidc_settings_known,
    oidc_token_checks,
    ports_on_loopback,
    secrets_not_plaintext,
    tls_beyond_loopback,
    token_audience_and_issuer,
)
from stack_policies.props import UNKNOWN
from stack_policies.resource_types import CONTAINER, REALM
from stack_policies.rule import Resource
from stack_policies.secret_markers import SECRET_PATHS_KEY

from stackrules.names import EDGE_PROXY_CONFIG_PATH, EDGE_PROXY_ROLE, ENV_NAMES_LABEL, ROLE_LABEL


def container(**props: Any) -> Resource:
    props.setdefault(SECRET_PATHS_KEY, [])
    return Resource(CONTAINER, props, "c")


def port(ip: Any = None) -> dict[str, Any]:
    published: dict[str, Any] = {"internal": 5000, "external": 5000}
    if ip is not None:
        published["ip"] = ip
    return published


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_ports_pass(ip: str) -> None:
    assert ports_on_loopback.violations(container(ports=[port(ip)])) == []


@pytest.mark.parametrize("ip", [None, "", "0.0.0.0", "::", "192.0.2.10"])
def test_ports_beyond_loopback_fail_and_name_the_config_key(ip: Any) -> None:
    [message] = ports_on_loopback.violations(container(ports=[port(ip)]))
    assert "mlflow-keycloak-stack:bindAddress" in message
    assert "allowedBindAddresses" in message


def test_no_ip_means_every_interface() -> None:
    [message] = ports_on_loopback.violations(container(ports=[port()]))
    assert "0.0.0.0 (every interface)" in message


def test_allowed_bind_addresses_are_accepted() -> None:
    resource = container(ports=[port("192.0.2.10"), port("0.0.0.0")])
    assert ports_on_loopback.violations(resource, {"allowedBindAddresses": ["192.0.2.10"]}) == [
        ports_on_loopback.violations(container(ports=[port("0.0.0.0")]))[0]
    ]


def test_unknown_ports_or_ip_are_not_judged() -> None:
    assert ports_on_loopback.violations(container(ports=UNKNOWN)) == []
    assert ports_on_loopback.violations(container(ports=[port(UNKNOWN)])) == []
    assert ports_on_loopback.violations(container()) == []


def test_rules_ignore_other_resource_types() -> None:
    assert ports_on_loopback.violations(Resource(REALM, {"ports": [port("0.0.0.0")]})) == []


@pytest.mark.parametrize(
    "props",
    [
        {"command": ["start-dev"]},
        {"command": ["start-dev", "--http-port=8080"]},
        {"entrypoints": ["/bin/sh", "-c", "/opt/keycloak/bin/kc.sh start-dev"]},
        {"command": ["start", "--profile=dev"]},
        {"envs": ["KC_DB=dev-file"]},
        {"envs": ["KC_HOSTNAME_STRICT=false"]},
    ],
)
def test_keycloak_dev_mode_fails(props: dict[str, Any]) -> None:
    [message] = keycloak_production_mode.violations(container(**props))
    assert "Fix:" in message


@pytest.mark.parametrize(
    "props",
    [
        {"command": ["start"], "envs": ["KC_DB=postgres", "KC_HOSTNAME=http://localhost:8080"]},
        {"command": ["start", "--optimized"]},
        {"command": UNKNOWN, "envs": UNKNOWN},
        {"command": ["echo", "restart-developer"]},
    ],
)
def test_keycloak_production_mode_passes(props: dict[str, Any]) -> None:
    assert keycloak_production_mode.violations(container(**props)) == []


DISCOVERY = "OIDC_DISCOVERY_URL=http://keycloak:8080/realms/mlflow/.well-known/openid-configuration"


def test_oidc_issuer_and_audience_set_pass() -> None:
    envs = [DISCOVERY, "OIDC_ISSUER=http://localhost:8080/realms/mlflow", "OIDC_AUDIENCE=mlflow"]
    assert oidc_token_checks.violations(container(envs=envs)) == []


def test_missing_or_empty_issuer_and_audience_fail() -> None:
    messages = oidc_token_checks.violations(container(envs=[DISCOVERY, "OIDC_ISSUER= "]))
    assert len(messages) == 2
    assert "OIDC_ISSUER" in messages[0] and "mlflow-keycloak-stack:publicHostname" in messages[0]
    assert "OIDC_AUDIENCE" in messages[1] and "mlflow-keycloak-stack:clientId" in messages[1]


def test_containers_without_oidc_are_not_checked() -> None:
    assert oidc_token_checks.violations(container(envs=["POSTGRES_DB=mlflow"])) == []


def test_an_unknown_entry_may_be_the_missing_issuer() -> None:
    envs = [DISCOVERY, UNKNOWN, "OIDC_AUDIENCE=mlflow"]
    assert oidc_token_checks.violations(container(envs=envs)) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KC_DB_PASSWORD", "x7"),
        ("OIDC_CLIENT_SECRET", "abc"),
        ("SECRET_KEY", "abc"),
        ("MLFLOW_TRACKING_TOKEN", "abc"),
        ("APIKEY", "abc"),
        ("MLFLOW_BACKEND_STORE_URI", "postgresql://mlflow:pw@db:5432/mlflow"),
    ],
)
def test_secret_looking_envs(name: str, value: str) -> None:
    assert looks_secret(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEYCLOAK_URL", "http://keycloak:8080"),
        ("OIDC_USE_REFRESH_TOKEN", "False"),
        ("OIDC_TOKEN_ENDPOINT", "http://keycloak:8080/token"),
        ("MLFLOW_BACKEND_STORE_URI", "postgresql://db:5432/mlflow"),
        ("POSTGRES_DB", "mlflow"),
    ],
)
def test_ordinary_envs(name: str, value: str) -> None:
    assert not looks_secret(name, value)


def test_plaintext_secret_env_fails_without_showing_the_value() -> None:
    resource = container(envs=["POSTGRES_DB=mlflow", "POSTGRES_PASSWORD=hunter2"])
    [message] = secrets_not_plaintext.violations(resource)
    assert "POSTGRES_PASSWORD (envs[1])" in message
    assert "hunter2" not in message


def test_secret_envs_pass_when_marked_whole_or_per_entry() -> None:
    envs = ["POSTGRES_DB=mlflow", "POSTGRES_PASSWORD=hunter2"]
    whole = container(envs=envs, **{SECRET_PATHS_KEY: ["envs"]})
    entry = container(envs=envs, **{SECRET_PATHS_KEY: ["envs[1]"]})
    assert secrets_not_plaintext.violations(whole) == []
    assert secrets_not_plaintext.violations(entry) == []


def test_a_name_can_be_declared_not_secret() -> None:
    resource = container(envs=["SESSION_TOKEN_HEADER=X-Session"])
    assert secrets_not_plaintext.violations(resource)
    config = {"plaintextEnvNames": ["SESSION_TOKEN_HEADER"]}
    assert secrets_not_plaintext.violations(resource, config) == []


def test_without_secret_markers_the_rule_says_it_cannot_judge() -> None:
    resource = Resource(CONTAINER, {"envs": ["POSTGRES_DB=mlflow"]})
    [message] = secrets_not_plaintext.violations(resource)
    assert "secret-marker shim" in message


def mlflow(*envs: str) -> Resource:
    discovery = (
        "OIDC_DISCOVERY_URL=http://keycloak:8080/realms/mlflow/.well-known/openid-configuration"
    )
    return container(envs=[discovery, *envs])


@pytest.mark.parametrize(
    ("envs", "passes"),
    [
        (["OIDC_CLIENT_ID=mlflow", "OIDC_AUDIENCE=mlflow"], True),
        (["OIDC_CLIENT_ID=mlflow", "OIDC_AUDIENCE=account"], False),
        (["OIDC_ISSUER=http://localhost:8080/realms/mlflow"], True),
        (["OIDC_ISSUER=http://localhost:8080/realms/master"], False),
        (["OIDC_ISSUER=http://localhost:8080/"], False),
    ],
)
def test_audience_is_the_client_and_issuer_the_same_realm(envs: list[str], passes: bool) -> None:
    found = token_audience_and_issuer.violations(mlflow(*envs))
    assert (found == []) is passes, found


def test_audience_check_skips_containers_without_oidc_and_unknown_values() -> None:
    assert token_audience_and_issuer.violations(container(envs=["OIDC_AUDIENCE=account"])) == []
    assert token_audience_and_issuer.violations(mlflow("OIDC_CLIENT_ID=mlflow", UNKNOWN)) == []


@pytest.mark.parametrize(
    ("envs", "passes"),
    [
        (["DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS"], True),
        (["DEFAULT_MLFLOW_PERMISSION=READ"], True),
        (["DEFAULT_MLFLOW_PERMISSION=EDIT"], False),
        (["DEFAULT_MLFLOW_PERMISSION=MANAGE"], False),
        ([], True),  # the plugin's own default is NO_PERMISSIONS
    ],
)
def test_default_mlflow_permission(envs: list[str], passes: bool) -> None:
    found = default_permission.violations(mlflow(*envs))
    assert (found == []) is passes, found
    if not passes:
        assert "mlflow-keycloak-stack:defaultMlflowPermission" in found[0]
    assert default_permission.violations(container(envs=["DEFAULT_MLFLOW_PERMISSION=MANAGE"])) == []


def test_a_default_permission_allowed_in_the_policy_config_passes() -> None:
    editing = mlflow("DEFAULT_MLFLOW_PERMISSION=EDIT")
    config = {"allowedDefaultPermissions": ["NO_PERMISSIONS", "READ", "EDIT"]}
    assert default_permission.violations(editing, config) == []


@pytest.mark.parametrize(
    "props",
    [
        {"privileged": True},
        {"networkMode": "host"},
        {"pidMode": "host"},
        {"ipcMode": "host"},
        {"usernsMode": "host"},
        {"mounts": [{"type": "bind", "source": "/", "target": "/host"}]},
        {"volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/docker.sock"}]},
        {"capabilities": {"adds": ["SYS_ADMIN"]}},
        {"devices": [{"hostPath": "/dev/sda"}]},
    ],
)
def test_host_access_is_refused(props: dict[str, Any]) -> None:
    [message] = no_host_access.violations(container(**props))
    assert "Fix: remove it" in message


def test_own_network_named_volumes_and_unknowns_pass_the_host_access_rule() -> None:
    own = container(
        networkMode="bridge",
        privileged=False,
        volumes=[{"volumeName": "data", "containerPath": "/data"}],
        mounts=[{"type": "volume", "source": "data", "target": "/data"}],
        capabilities={"drops": ["ALL"]},
    )
    assert no_host_access.violations(own) == []
    assert no_host_access.violations(container(volumes=UNKNOWN, mounts=[UNKNOWN])) == []


def test_a_keycloak_client_as_audience_is_refused_even_before_the_client_id_is_known() -> None:
    [message] = token_audience_and_issuer.violations(mlflow("OIDC_AUDIENCE=account", UNKNOWN))
    assert "OIDC_AUDIENCE is 'account'" in message


PROXY_LABELS = [{"label": ROLE_LABEL, "value": EDGE_PROXY_ROLE}]


def edge_proxy(**changes: Any) -> Resource:
    """A container as the stack's EdgeProxy makes it: Caddy's own command on the uploaded
    Caddyfile, no env, HTTPS and its redirect published."""
    props: dict[str, Any] = {
        "uploads": [{"file": EDGE_PROXY_CONFIG_PATH, "content": "..."}],
        "ports": [
            {"internal": 443.0, "external": 443.0, "ip": "0.0.0.0"},
            {"internal": 80.0, "external": 80.0, "ip": "0.0.0.0"},
            {"internal": 8081.0, "external": 18081.0, "ip": "127.0.0.1"},
        ],
        "labels": PROXY_LABELS,
    }
    return container(**{**props, **changes})


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"command": ["mlflow", "server", "--port", "443"]}, "its own command"),
        ({"entrypoints": ["/bin/sh"]}, "its own entrypoints"),
        ({"envs": ["MLFLOW_BACKEND_STORE_URI=sqlite:///x"]}, "env settings"),
        ({"uploads": []}, f"no Caddyfile uploaded to {EDGE_PROXY_CONFIG_PATH}"),
        ({"ports": [port("0.0.0.0")]}, "port 5000 published beyond loopback"),
    ],
)
def test_the_proxy_label_exempts_only_a_container_that_runs_like_the_proxy(
    changes: dict[str, Any], said: str
) -> None:
    [message] = tls_beyond_loopback.violations(edge_proxy(**changes))
    assert "does not run like the stack's TLS edge proxy" in message and said in message


def test_only_the_labelled_tls_proxy_publishes_beyond_loopback() -> None:
    assert tls_beyond_loopback.violations(edge_proxy()) == []
    assert tls_beyond_loopback.violations(container(ports=[port("127.0.0.1")])) == []
    [message] = tls_beyond_loopback.violations(container(ports=[port("192.0.2.10")]))
    assert "mlflow-keycloak-stack:tls internal" in message
    assert tls_beyond_loopback.violations(container(ports=[port(UNKNOWN)])) == []


def named(names: str, *envs: Any) -> Resource:
    return container(envs=list(envs), labels=[{"label": ENV_NAMES_LABEL, "value": names}])


def test_unknown_env_lines_must_be_named_by_the_label() -> None:
    assert env_names_declared.violations(named("SECRET_KEY,A", UNKNOWN, "A=1")) == []
    assert env_names_declared.violations(container(envs=["A=1", "B=2"])) == []  # all readable
    [unnamed] = env_names_declared.violations(container(envs=[UNKNOWN, "A=1"]))
    assert "no org.mlflow-stack.env-names label naming them" in unnamed
    [whole] = env_names_declared.violations(container(envs=UNKNOWN))
    assert "unknown as a whole" in whole
    [count] = env_names_declared.violations(named("A", UNKNOWN, "A=1"))
    assert "names 1 env entries, the container has 2" in count
    # At `up` every line is known: a label that lied about one is caught there.
    [lie] = env_names_declared.violations(named("SECRET_KEY,A", "OIDC_AUDIENCE=account", "A=1"))
    assert (
        "envs[0] is OIDC_AUDIENCE, but the org.mlflow-stack.env-names label says SECRET_KEY" in lie
    )


def test_an_env_name_given_twice_is_refused() -> None:
    envs = ["DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS", "A=1", "DEFAULT_MLFLOW_PERMISSION=MANAGE"]
    [message] = env_names_unique.violations(container(envs=envs))
    assert "DEFAULT_MLFLOW_PERMISSION is set twice (envs[0] and envs[2])" in message
    assert env_names_unique.violations(container(envs=["A=1", UNKNOWN, UNKNOWN])) == []


def test_a_named_line_no_longer_hides_a_missing_or_computed_mlflow_setting() -> None:
    discovery = "OIDC_DISCOVERY_URL=http://keycloak:8080/realms/mlflow/.well-known/x"
    # Named by the label, the unknown line is the secret: OIDC_AUDIENCE is known to be absent.
    hidden = named("OIDC_DISCOVERY_URL,OIDC_CLIENT_SECRET", discovery, UNKNOWN)
    assert any("no OIDC_AUDIENCE" in message for message in oidc_token_checks.violations(hidden))
    computed = named("OIDC_DISCOVERY_URL,OIDC_AUDIENCE", discovery, UNKNOWN)
    [message] = oidc_settings_known.violations(computed)
    assert "OIDC_AUDIENCE (envs[1]) is unknown until `up`" in message
    assert oidc_settings_known.violations(named("A", UNKNOWN)) == []  # not MLflow
