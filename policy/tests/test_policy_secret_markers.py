"""The secret-marker shim: why it exists, and that the SDK's own Analyze passes the markers on."""

from __future__ import annotations

from policy_wire import secret
from pulumi_policy.deserialize import deserialize_properties
from stack_policies.props import UNKNOWN, plain
from stack_policies.resource_types import CONTAINER
from stack_policies.secret_markers import SECRET_PATHS_KEY, find_secret_paths

WIRE = {
    "envs": ["POSTGRES_DB=mlflow", secret("POSTGRES_PASSWORD=hunter2")],
    "ports": [{"internal": 5432, "ip": secret("127.0.0.1")}],
}


def test_the_sdk_alone_drops_secret_markers() -> None:
    # pulumi-policy hands validations plain values: the reason the shim exists.
    assert deserialize_properties(WIRE) == {
        "envs": ["POSTGRES_DB=mlflow", "POSTGRES_PASSWORD=hunter2"],
        "ports": [{"internal": 5432, "ip": "127.0.0.1"}],
    }


def test_secret_paths_are_found_at_any_depth() -> None:
    assert find_secret_paths(WIRE) == ["envs[1]", "ports[0].ip"]
    assert find_secret_paths({"envs": secret(["A=1", secret("B=2")])}) == ["envs", "envs[1]"]


def test_analyze_sees_a_secret_entry_as_secret(analyze) -> None:
    assert analyze(CONTAINER, {"image": "postgres:17", "envs": WIRE["envs"]}) == []
    plaintext = {
        "image": "postgres:17",
        "envs": ["POSTGRES_DB=mlflow", "POSTGRES_PASSWORD=hunter2"],
    }
    assert [name for name, _ in analyze(CONTAINER, plaintext)] == [
        "container-secrets-not-plaintext"
    ]


def test_analyze_sees_a_secret_list_as_secret(analyze) -> None:
    props = {"image": "postgres:17", "envs": secret(["POSTGRES_PASSWORD=hunter2"])}
    assert analyze(CONTAINER, props) == []


def test_plain_turns_sdk_proxies_into_values_with_unknowns_marked() -> None:
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    proxied = unknown_checking_proxy(
        {"envs": ["A=1", UNKNOWN_STRING_VALUE], "image": UNKNOWN_STRING_VALUE, SECRET_PATHS_KEY: []}
    )
    assert plain(proxied) == {"envs": ["A=1", UNKNOWN], "image": UNKNOWN, SECRET_PATHS_KEY: []}
