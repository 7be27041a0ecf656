"""Runs the real __main__.py against Pulumi's mock engine and records what it declares."""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

from stackconfig import plaintext_secrets
from stackrules.names import NAMESPACE

ROOT = Path(__file__).resolve().parents[2]
PROJECT = NAMESPACE
STACK = "unit"

# pulumi.runtime.test runs a function under the mock engine and waits for every registration.
under_mocks: Callable[[Callable[[], Any]], Callable[[], None]] = pulumi.runtime.test

BASE_USERS = [
    {
        "username": "ada",
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "groups": ["mlflow-admin"],
    },
    {
        "username": "alan",
        "email": "alan@example.com",
        "firstName": "Alan",
        "lastName": "Turing",
        "groups": ["mlflow"],
    },
]


@dataclass
class Declared:
    """A resource as the program declared it (inputs after the engine resolved them)."""

    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


@dataclass
class RecordingMocks(Mocks):
    resources: list[Declared] = field(default_factory=list)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = f"generated-{args.name}"
        elif args.typ == "keycloak:openid/client:Client":
            state["clientSecret"] = "client-secret-from-keycloak"
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{args.name}"
        elif args.typ == "docker:index/network:Network":
            # Docker picks a free range; the program reads it back (the edge proxy's trust).
            block = f"172.30.{len(self.resources)}"
            state["ipamConfigs"] = [{"subnet": f"{block}.0/24", "gateway": f"{block}.1"}]
        self.resources.append(Declared(args.typ, args.name, dict(args.inputs), args.provider))
        return f"{args.name}-id", state

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        if args.token == "keycloak:openid/getClient:getClient":
            return {**args.args, "id": f"{args.args['clientId']}-uuid"}, []
        if args.token == "keycloak:index/getUser:getUser":
            # A person just created: Keycloak wants their temporary password replaced.
            return {
                **args.args,
                "id": f"{args.args['username']}-uuid",
                "requiredActions": ["UPDATE_PASSWORD"],
            }, []
        return {}, None


@dataclass
class DeclaredStack:
    """What one run of the program declared: resources, and the program's own objects."""

    resources: list[Declared]
    namespace: dict[str, Any]
    exports: dict[str, Any]
    protected: set[str] = field(default_factory=set)
    """Names declared with `protect`."""
    retained: set[str] = field(default_factory=set)
    """Names declared with `retain_on_delete`."""
    depends_on: dict[str, set[str]] = field(default_factory=dict)
    """Each name's `depends_on`, by name."""

    def of_type(self, type_token: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Declared:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_token} {name or ''}, got {len(found)}"
        return found[0]


def unit_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"users": BASE_USERS}
    config.update(overrides or {})
    return config


@dataclass(frozen=True)
class Identity:
    """How the engine knows a resource: its type qualified by its ancestors' types, its name."""

    qualified_type: str
    name: str
    parent: str | None
    aliases: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.qualified_type}::{self.name}"


def describe_alias(alias: object) -> str:
    """An alias as text: what it says the resource used to be."""
    if not isinstance(alias, pulumi.Alias):
        return f"urn={alias}"
    parts = []
    if alias.parent is pulumi.ROOT_STACK_RESOURCE:
        parts.append("parent=<stack>")
    for attribute in ("name", "type_"):
        value = getattr(alias, attribute, None)
        if isinstance(value, str):
            parts.append(f"{attribute.rstrip('_')}={value}")
    return ",".join(parts) or "alias"


def run_with(
    mocks: Mocks,
    config: Mapping[str, Any],
    stack: str = STACK,
    protected: set[str] | None = None,
    retained: set[str] | None = None,
    depends_on: dict[str, set[str]] | None = None,
    identities: dict[str, Identity] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run __main__.py under `mocks` with this stack config (camelCase keys, full).

    Returns the program's namespace and its stack exports (as Outputs)."""
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    # As the language host does: the whole map in PULUMI_CONFIG, then set in the runtime.
    values = {
        f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
    }
    os.environ["PULUMI_CONFIG"] = json.dumps(values)
    # Set as docs/operations.md says: every key holding a secret field with --secret.
    secret_keys = [
        f"{PROJECT}:{key}" for key, value in config.items() if plaintext_secrets({key: value}, ())
    ]
    pulumi.runtime.set_all_config(values, secret_keys)
    namespace: dict[str, Any] = {}

    known: dict[int, Identity] = {}

    def record_declaration(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if not running:
            return None  # the mock runtime keeps every run's transformation: record this run's
        if protected is not None and args.opts.protect:
            protected.add(args.name)
        if retained is not None and args.opts.retain_on_delete:
            retained.add(args.name)
        if depends_on is not None and isinstance(args.opts.depends_on, list):
            names = {r.pulumi_resource_name for r in args.opts.depends_on}
            depends_on[args.name] = names
        parent = known.get(id(args.opts.parent)) if args.opts.parent is not None else None
        declared = Identity(
            qualified_type=f"{parent.qualified_type}${args.type_}" if parent else args.type_,
            name=args.name,
            parent=parent.key if parent else None,
            aliases=tuple(describe_alias(a) for a in args.opts.aliases or []),
        )
        known[id(args.resource)] = declared
        if identities is not None:
            identities[declared.key] = declared
        return None

    exports: dict[str, Any] = {}

    @under_mocks
    def program() -> None:
        pulumi.runtime.register_stack_transformation(record_declaration)
        # The mock runtime keeps one root stack across runs: start its exports afresh.
        outputs: dict[str, Any] = getattr(pulumi.runtime.get_root_resource(), "outputs", {})
        outputs.clear()
        namespace.update(runpy.run_path(str(ROOT / "__main__.py")))
        exports.update(outputs)

    running = True
    program()
    running = False
    return namespace, exports


def run_program(overrides: Mapping[str, Any] | None = None) -> DeclaredStack:
    """Run __main__.py with the base unit-test config plus overrides, recording resources."""
    mocks = RecordingMocks()
    protected: set[str] = set()
    retained: set[str] = set()
    depends_on: dict[str, set[str]] = {}
    namespace, exports = run_with(
        mocks, unit_config(overrides), protected=protected, retained=retained, depends_on=depends_on
    )
    return DeclaredStack(mocks.resources, namespace, exports, protected, retained, depends_on)


def resolve(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    """An Output's value and whether it is secret."""
    result: dict[str, Any] = {}

    @under_mocks
    def read() -> pulumi.Output[None]:
        async def grab() -> None:
            result["value"] = await output.future()
            result["secret"] = await output.is_secret()

        return pulumi.Output.from_input(grab())

    read()
    return result["value"], result["secret"]
