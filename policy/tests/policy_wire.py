"""Properties as the engine sends them to a policy pack; the pack run through the SDK's Analyze."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

POLICY_DIR = Path(__file__).resolve().parents[1]
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

from stack_policies import secret_markers  # noqa: E402
from stack_policies.pack import PACK_NAME, policies  # noqa: E402

COMPUTED = UNKNOWN_STRING_VALUE

Analyze = Callable[..., list[tuple[str, str]]]


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine sends a secret to a policy pack."""
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


def make_analyzer() -> Analyze:
    """``analyze(type, props, config=None, name="test")`` -> [(policy, message)] from the SDK's
    own Analyze; ``name`` is the resource's name (and URN) as the engine sends it."""
    secret_markers.install()
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies(), EnforcementLevel.MANDATORY)

    def run(
        resource_type: str,
        props: dict[str, Any],
        config: dict[str, dict[str, Any]] | None = None,
        name: str = "test",
    ) -> list[tuple[str, str]]:
        if config:
            request = proto.ConfigureAnalyzerRequest()
            for name, properties in config.items():
                request.policyConfig[name].properties.update(properties)
                request.policyConfig[name].enforcementLevel = proto.EnforcementLevel.MANDATORY
            servicer.Configure(request, None)
        properties = struct_pb2.Struct()
        properties.update(props)
        response = servicer.Analyze(
            proto.AnalyzeRequest(
                type=resource_type,
                urn=f"urn:pulumi:dev::mlflow-keycloak-stack::{resource_type}::{name}",
                name=name,
                properties=properties,
            ),
            None,
        )
        return [(d.policyName, d.message) for d in response.diagnostics]

    return run
