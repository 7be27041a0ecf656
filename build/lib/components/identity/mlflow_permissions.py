"""MLflow permissions as code: each `permissions` entry is one grant in mlflow-oidc-auth.

The plugin keeps grants in its own database and offers them in its UI, out of reach of review
and history. Each entry is therefore one `MlflowPermission` resource (a Pulumi dynamic provider
over the plugin's admin REST API, called as the stack's admin service account, like
MlflowAccount):

- `preview` shows a changed level, pattern or priority as an update, a new subject or kind as
  a replacement;
- `refresh` reads the grant back, so a level changed in the UI shows as drift and `up` puts the
  declared one back; a grant deleted in the UI is created again;
- every grant is a pattern grant: an exact name is the pattern of that one name, so a grant
  can be declared before its experiment exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, TypedDict

import pulumi
from pulumi import dynamic

from components.identity.mlflow_accounts import API_FIELDS, AdminApi, AdminApiResource, admin_client
from components.stack_component import Options, StackComponent
from stackconfig import PermissionSpec
from stackrules.mlflow_admin import (
    PatternGrant,
    create_pattern_grant,
    delete_pattern_grant,
    read_pattern_grant,
    update_pattern_grant,
)
from stackrules.mlflow_permissions import RESOURCE_MARKER

# Inputs whose change makes a new grant: the plugin files grants under subject and kind.
REPLACING = ("subject_kind", "subject", "resource")
UPDATING = ("regex", "priority", "level", *API_FIELDS)


def _grant(props: dict[str, Any], grant_id: str = "") -> PatternGrant:
    return PatternGrant(grant_id, props["regex"], int(props["priority"]), props["level"])


def _where(props: dict[str, Any]) -> tuple[str, str, str]:
    return props["subject_kind"], props["subject"], props["resource"]


class MlflowPermissionProvider(dynamic.ResourceProvider):
    """Create/update/delete the plugin's pattern grant; read reports it as the plugin has it."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        with admin_client(props).session() as api:
            created = create_pattern_grant(api, *_where(props), _grant(props))
        return dynamic.CreateResult(created.id, props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [key for key in REPLACING if olds.get(key) != news[key]]
        changed = replaces + [key for key in UPDATING if olds.get(key) != news[key]]
        return dynamic.DiffResult(
            changes=bool(changed), replaces=replaces, delete_before_replace=True
        )

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        with admin_client(news).session() as api:
            update_pattern_grant(api, *_where(news), _grant(news, id_))
        return dynamic.UpdateResult(news)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with admin_client(props).session() as api:
            delete_pattern_grant(api, *_where(props), id_)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        with admin_client(props).session() as api:
            found = read_pattern_grant(api, *_where(props), id_)
        if found is None:
            # Deleted by hand: an empty id tells the engine the resource is gone.
            return dynamic.ReadResult("", {})
        actual = {"regex": found.regex, "priority": found.priority, "level": found.permission}
        return dynamic.ReadResult(id_, {**props, **actual})


class MlflowPermission(AdminApiResource):
    """One grant of the plugin (see the module docstring)."""

    level: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        api: AdminApi,
        entry: PermissionSpec,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            RESOURCE_MARKER: True,
            "subject_kind": entry.subject_kind,
            "subject": entry.subject,
            "resource": entry.resource,
            "regex": entry.regex,
            "priority": entry.priority,
            "level": entry.level,
        }
        super().__init__(MlflowPermissionProvider(), name, api, inputs, opts)


class MlflowPermissionsArgs(TypedDict):
    api: AdminApi
    permissions: Sequence[PermissionSpec]
    # The plugin's username of each configured person (their email, lower-cased).
    accounts: dict[str, str]


class MlflowPermissions(StackComponent):
    """One MlflowPermission per `permissions` entry, named after what identifies it (subject,
    kind, selector), so reordering the list changes nothing and a new level is an update."""

    def __init__(self, name: str, args: MlflowPermissionsArgs, opts: Options = None) -> None:
        super().__init__(name, opts)
        for entry in args["permissions"]:
            selector = hashlib.sha256(entry.regex.encode()).hexdigest()[:10]
            label = f"{name}-{entry.subject_kind}-{entry.subject}-{entry.resource}-{selector}"
            if entry.user is not None:
                entry = entry.model_copy(update={"user": args["accounts"][entry.user]})
            MlflowPermission(label, args["api"], entry, self.child)
        self.register_outputs({})
