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

A person signing in through a brokered IdP (identityProviders) leaves the browser flow at the
IdP's button, so its OTP step never runs for them. Keycloak runs a provider's post-broker
login flow after every such sign-in; this one asks the same of holders of the role, and
IdentityBrokering binds it to every provider:

  mlflow post broker
    second factor                         CONDITIONAL
      conditional-user-role               REQUIRED     holds otp-required?
      auth-otp-form                       REQUIRED
    allow-access-authenticator            REQUIRED     (a flow where nothing ran fails)
"""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_keycloak as keycloak

from components.stack_component import Options, StackComponent

FLOW_ALIAS = "mlflow browser"
POST_BROKER_FLOW_ALIAS = "mlflow post broker"
ROLE_NAME = "otp-required"


class SecondFactorArgs(TypedDict):
    realm_id: pulumi.Input[str]


class SecondFactor(StackComponent):
    """The role that demands a second factor, and the browser flow that enforces it."""

    role_id: pulumi.Output[str]
    # The post-broker login flow every brokered IdP must name.
    post_broker_flow: pulumi.Output[str]
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
        otp = self._otp_steps(
            name, forms.alias, f"{FLOW_ALIAS} second factor", "holds otp-required", 20, password
        )
        keycloak.authentication.Bindings(
            f"{name}-bindings",
            realm_id=realm_id,
            browser_flow=flow.alias,
            opts=self.child.merge(pulumi.ResourceOptions(depends_on=[otp])),
        )
        post_broker = keycloak.authentication.Flow(
            f"{name}-post-broker-flow",
            realm_id=realm_id,
            alias=POST_BROKER_FLOW_ALIAS,
            description="After a brokered sign-in: a TOTP code for holders of otp-required",
            opts=self.child,
        )
        broker_otp = self._otp_steps(
            f"{name}-post-broker",
            post_broker.alias,
            f"{POST_BROKER_FLOW_ALIAS} second factor",
            "brokered and holds otp-required",
            10,
        )
        # Keycloak fails a flow in which no step ran (the condition false: no code wanted).
        allow = self._step(
            name, "post-broker-allow", post_broker.alias, "allow-access-authenticator",
            "REQUIRED", 20, after=broker_otp,
        )  # fmt: skip
        self.role_id = role.id
        # Known once its steps exist: a provider bound to it never runs a half-built flow.
        self.post_broker_flow = pulumi.Output.all(post_broker.alias, allow.id).apply(
            lambda done: str(done[0])
        )
        self.register_outputs({"flow": flow.alias, "postBrokerFlow": post_broker.alias})

    def _otp_steps(
        self,
        name: str,
        parent_alias: pulumi.Input[str],
        alias: str,
        condition_alias: str,
        priority: int,
        after: pulumi.Resource | None = None,
    ) -> keycloak.authentication.Execution:
        """The conditional subflow that asks holders of the role for a code; its last step."""
        second = keycloak.authentication.Subflow(
            f"{name}-second-factor",
            realm_id=self._realm_id,
            parent_flow_alias=parent_alias,
            alias=alias,
            provider_id="basic-flow",
            requirement="CONDITIONAL",
            priority=priority,
            opts=self.child.merge(pulumi.ResourceOptions(depends_on=[after] if after else [])),
        )
        condition = self._step(
            name, "condition", second.alias, "conditional-user-role", "REQUIRED", 10
        )
        keycloak.authentication.ExecutionConfig(
            f"{name}-condition-config",
            realm_id=self._realm_id,
            execution_id=condition.id,
            alias=condition_alias,
            config={"condUserRole": ROLE_NAME, "negate": "false"},
            opts=self.child,
        )
        return self._step(
            name, "otp", second.alias, "auth-otp-form", "REQUIRED", 20, after=condition
        )

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
