"""A second factor (TOTP) at sign-in for the members of chosen groups, declared as the realm's
browser flow.

Keycloak's built-in browser flow asks for an OTP only of people who already set one up. This
flow asks it of everyone holding the `otp-required` role, which the chosen groups grant
(tests/e2e/test_19_second_factor.py): at their first sign-in Keycloak makes them enrol an
authenticator app (the OTP form sets the CONFIGURE_TOTP required action), afterwards every
sign-in wants a code. People without the role sign in with a password alone.

  mlflow browser                          (bound as the realm's browser flow)
    auth-cookie                           ALTERNATIVE  an SSO session is enough
    forms                                 ALTERNATIVE
      auth-username-password-form         REQUIRED
      second factor                       CONDITIONAL
        conditional-user-role             REQUIRED     holds otp-required?
        auth-otp-form                     REQUIRED
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent

FLOW_ALIAS = "mlflow browser"
ROLE_NAME = "otp-required"


class SecondFactorArgs(TypedDict):
    realm_id: pulumi.Input[str]


class SecondFactor(StackComponent):
    """The role that demands a second factor, and the browser flow that enforces it."""

    role_id: pulumi.Output[str]
    _realm_id: pulumi.Input[str]

    def __init__(self, name: str, args: SecondFactorArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        realm_id = self._realm_id = args["realm_id"]
        role = keycloak.Role(
            f"{name}-role",
            realm_id=realm_id,
            name=ROLE_NAME,
            description="Must give a TOTP code at every sign-in to MLflow",
            opts=self.child,
        )
        flow = keycloak.authentication.Flow(
            f"{name}-flow",
            realm_id=realm_id,
            alias=FLOW_ALIAS,
            description="Browser sign-in; a TOTP code for holders of otp-required",
            opts=self.child,
        )
        cookie = self._step(name, "cookie", flow.alias, "auth-cookie", "ALTERNATIVE", 10)
        forms = keycloak.authentication.Subflow(
            f"{name}-forms",
            realm_id=realm_id,
            parent_flow_alias=flow.alias,
            alias=f"{FLOW_ALIAS} forms",
            provider_id="basic-flow",
            requirement="ALTERNATIVE",
            priority=20,
            opts=self.child.merge(pulumi.ResourceOptions(depends_on=[cookie])),
        )
        password = self._step(
            name, "password", forms.alias, "auth-username-password-form", "REQUIRED", 10
        )
        second = keycloak.authentication.Subflow(
            f"{name}-second-factor",
            realm_id=realm_id,
            parent_flow_alias=forms.alias,
            alias=f"{FLOW_ALIAS} second factor",
            provider_id="basic-flow",
            requirement="CONDITIONAL",
            priority=20,
            opts=self.child.merge(pulumi.ResourceOptions(depends_on=[password])),
        )
        condition = self._step(
            name, "condition", second.alias, "conditional-user-role", "REQUIRED", 10
        )
        keycloak.authentication.ExecutionConfig(
            f"{name}-condition-config",
            realm_id=realm_id,
            execution_id=condition.id,
            alias="holds otp-required",
            config={"condUserRole": ROLE_NAME, "negate": "false"},
            opts=self.child,
        )
        otp = self._step(
            name, "otp", second.alias, "auth-otp-form", "REQUIRED", 20, after=condition
        )
        keycloak.authentication.Bindings(
            f"{name}-bindings",
            realm_id=realm_id,
            browser_flow=flow.alias,
            opts=self.child.merge(pulumi.ResourceOptions(depends_on=[otp])),
        )
        self.role_id = role.id
        self.register_outputs({"flow": flow.alias})

    def _step(
        self,
        name: str,
        label: str,
        parent_alias: pulumi.Input[str],
        authenticator: str,
        requirement: str,
        priority: int,
        after: pulumi.Resource | None = None,
    ) -> keycloak.authentication.Execution:
        return keycloak.authentication.Execution(
            f"{name}-{label}",
            realm_id=self._realm_id,
            parent_flow_alias=parent_alias,
            authenticator=authenticator,
            requirement=requirement,
            priority=priority,
            opts=self.child.merge(pulumi.ResourceOptions(depends_on=[after] if after else [])),
        )
