"""Entry point the Pulumi CLI runs (`python -u policy/`): the stack's policy pack, all mandatory."""

from pulumi_policy import EnforcementLevel, PolicyPack
from stack_policies import secret_markers
from stack_policies.pack import PACK_NAME, policies

secret_markers.install()

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policies(),
)
