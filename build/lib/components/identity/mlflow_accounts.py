"""mlflow-oidc-auth's own account of each person, active exactly when the stack says so.

The plugin keeps users of its own, with their personal access tokens and browser sessions;
Keycloak never tells it that someone left. Each configured person is therefore one
`MlflowAccount` resource (a Pulumi dynamic provider over the plugin's admin REST API):

- active while the person is enabled and in one of MLflow's groups;
- otherwise, and when the person is removed from the config, deactivated: the plugin then
  refuses their PATs, bearer tokens and sessions at the next request and deletes their tokens;
- `pulumi refresh` reads the flag back, so an account re-activated in the plugin's UI shows as
  drift and `up` deactivates it again;
- when the config takes a group or team from someone who stays admitted, their personal
  access tokens and MLflow sessions end. The plugin judges both on the groups it stored at
  their last sign-in (it reads them again only then), so a PAT minted inside a team kept the
  team's grants after they left. Their next sign-in carries what they hold now.

The stack calls the API as its own service account (client credentials of the `stack admin`
client, a member of MLflow's admin group): mlflow-oidc-auth provisions it as an administrator on
its first bearer call (OIDC_PROVISION_ON_BEARER_AUTH with OIDC_TRUST_BEARER_GROUP_CLAIMS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
from pulumi import dynamic

from components.stack_component import Options, StackComponent, secret_outputs
from stackconfig import UserSpec
from stackrules.mlflow_admin import AdminClient, account_active, end_access, set_account_active

# The admin client's fields, as the resource's inputs name them.
API_FIELDS = ("mlflow_url", "token_url", "client_id", "client_secret")


class AdminApi(TypedDict):
    """How the stack reaches mlflow-oidc-auth's admin API from this host."""

    mlflow_url: pulumi.Input[str]
    token_url: pulumi.Input[str]
    client_id: pulumi.Input[str]
    client_secret: pulumi.Input[str]


def plugin_username(spec: UserSpec) -> str:
    """mlflow-oidc-auth names its users by their email (the token's email claim)."""
    return spec.email.lower()


def admin_client(props: dict[str, Any]) -> AdminClient:
    return AdminClient(**{field: props[field] for field in API_FIELDS})


class MlflowAccountProvider(dynamic.ResourceProvider):
    """Create/update set the flag (update also ends the access of someone who lost a group),
    delete deactivates, read reports the plugin's flag."""

    def _apply(self, props: dict[str, Any], active: bool) -> dict[str, Any]:
        with admin_client(props).session() as api:
            set_account_active(api, props["username"], active)
        return {**props, "active": active}

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(props["username"], self._apply(props, bool(props["active"])))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        keys = ("username", "active", "memberships", *API_FIELDS)
        changed = [key for key in keys if olds.get(key) != news[key]]
        return dynamic.DiffResult(
            changes=bool(changed), replaces=["username"] if "username" in changed else []
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        applied = self._apply(news, bool(news["active"]))
        # A state written before memberships were kept has nothing to compare.
        left = set(olds.get("memberships", news["memberships"])) - set(news["memberships"])
        if left and news["active"]:
            with admin_client(news).session() as api:
                end_access(api, news["username"])
        return dynamic.UpdateResult(applied)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._apply(props, False)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        with admin_client(props).session() as api:
            found = account_active(api, id_)
        # No account yet counts as active: nothing of theirs exists to refuse.
        return dynamic.ReadResult(id_, {**props, "active": True if found is None else found})


class AdminApiResource(dynamic.Resource):
    """A dynamic resource kept through the plugin's admin API as the stack's own admin: the
    API's address and credentials (AdminApi) among its inputs, its client secret kept secret in
    the state."""

    def __init__(
        self,
        provider: dynamic.ResourceProvider,
        name: str,
        api: AdminApi,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        super().__init__(provider, name, {**api, **props}, secret_outputs(opts, "client_secret"))


class MlflowAccount(AdminApiResource):
    """One person's account in mlflow-oidc-auth (see the module docstring)."""

    active: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        api: AdminApi,
        username: str,
        active: bool,
        memberships: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"username": username, "active": active, "memberships": sorted(memberships)}
        super().__init__(MlflowAccountProvider(), name, api, props, opts)


class MlflowAccountsArgs(TypedDict):
    api: AdminApi
    users: Sequence[UserSpec]
    # Whether each person may sign in (enabled, in MLflow's user or admin group or a team).
    admitted: Mapping[str, bool]


class MlflowAccounts(StackComponent):
    """One MlflowAccount per configured person: active exactly when they are admitted."""

    def __init__(self, name: str, args: MlflowAccountsArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        for spec in args["users"]:
            active = args["admitted"][spec.username]
            account = plugin_username(spec)
            memberships = [*spec.groups, *spec.teams]
            MlflowAccount(
                f"{name}-{spec.username}", args["api"], account, active, memberships, self.child
            )
        self.register_outputs({})
