"""The Pulumi state of the stack's Keycloak objects, carried with a backup.

Restoring Keycloak's database brings back the objects as they were backed up: their ids,
their client secrets, the bootstrap admin's password. The freshly created stack's state names
other ids and secrets. Grafting the backed-up state of exactly those resources onto the fresh
state makes the two agree again: the next `pulumi up` rolls the old secrets out to MLflow's
and Keycloak's containers, and `pulumi up --refresh` finds nothing changed by hand.

What is grafted: every `keycloak:` resource, the Keycloak provider's inputs, and the generated
passwords whose truth lives in Keycloak's database (the bootstrap admin's, the users' initial
ones); and the declared MLflow grants, whose ids are rows of mlflow-oidc-auth's restored
database (the fresh stack's ids name rows that the restore replaced). Postgres passwords stay:
the servers and their roles are the new stack's. So does MLflow's client secret, which the
stack generates (mlflow-client-secret) and MLflow's containers already hold: the `up` that ends
a restore gives it to the restored client.

Data only: a dynamic resource's state also holds `__provider`, its provider's code pickled,
which the Pulumi SDK unpickles (runs) at the next `up`. A backup never carries it, and a graft
keeps the fresh stack's own: whoever writes a backup can change ids and secrets, not code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from stackctl.errors import StackctlError

KEYCLOAK_PROVIDER = "pulumi:providers:keycloak"
# Components whose generated passwords Keycloak's database holds.
KEYCLOAK_OWNERS = ("mlflowstack:index:KeycloakServer", "mlflowstack:index:RealmUsers")
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
DYNAMIC = "pulumi-python:dynamic:Resource"
# The component of the MLflow grants (components/identity/mlflow_permissions.py).
GRANTS_OWNER = "mlflowstack:index:MlflowPermissions"
# The pickled provider of a dynamic resource, in its inputs and outputs.
PICKLED_CODE = "__provider"


def _data(values: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's inputs or outputs without executable state."""
    return {k: copy.deepcopy(v) for k, v in values.items() if k != PICKLED_CODE}


def _type_chain(urn: str) -> list[str]:
    """urn:pulumi:STACK::PROJECT::ParentType$...$Type::name -> [ParentType, ..., Type]."""
    return urn.split("::")[2].split("$")


def is_identity(resource: dict[str, Any]) -> bool:
    kind = str(resource["type"])
    if kind.startswith("keycloak:") or kind == KEYCLOAK_PROVIDER:
        return True
    parents = _type_chain(str(resource["urn"]))[:-1]
    if kind == DYNAMIC:
        return GRANTS_OWNER in parents
    return kind == RANDOM_PASSWORD and any(owner in parents for owner in KEYCLOAK_OWNERS)


def identities(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grafted resources of an exported deployment (`pulumi stack export --show-secrets`):
    their urn, type and grafted fields."""
    if deployment.get("pending_operations"):
        raise StackctlError(
            "the stack has pending operations (an interrupted `pulumi up`); run "
            "`pulumi refresh --clear-pending-creates` or finish the update first"
        )
    return [
        {"urn": r["urn"], "type": r["type"], "id": r.get("id"),
         "inputs": _data(r.get("inputs") or {}), "outputs": _data(r.get("outputs") or {})}
        for r in deployment.get("resources", [])
        if is_identity(r)
    ]  # fmt: skip


def _in_stack(urn: str, stack: str) -> str:
    head, rest = urn.split("::", 1)
    return f"{head.rsplit(':', 1)[0]}:{stack}::{rest}"


def _listed(urns: set[str]) -> str:
    shown = sorted(urn.rsplit("::", 1)[-1] for urn in urns)
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return ", ".join(shown[:5]) + more


def graft(
    deployment: Mapping[str, Any], saved: list[dict[str, Any]], saved_stack: str, stack: str
) -> dict[str, Any]:
    """`deployment` (the fresh stack's) with the saved resources' ids, inputs and outputs.

    The stack must declare the same Keycloak objects the backup had: anything else would leave
    restored objects without state, or state without objects.
    """
    by_urn = {_in_stack(r["urn"], stack): r for r in saved}
    grafted = copy.deepcopy(dict(deployment))
    current = {r["urn"] for r in grafted.get("resources", []) if is_identity(r)}
    missing, extra = set(by_urn) - current, current - set(by_urn)
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"only the backup has {_listed(missing)}")
        if extra:
            problems.append(f"only the stack has {_listed(extra)}")
        raise StackctlError(
            f"the stack's Keycloak objects and MLflow grants differ from backup stack "
            f"{saved_stack!r}'s ("
            + "; ".join(problems)
            + "); nothing was changed: set the config the backup was taken with, "
            "`pulumi up`, restore, then apply the change"
        )
    for resource in grafted["resources"]:
        source = by_urn.get(resource["urn"])
        if source is None:
            continue
        # A provider keeps its id: every resource refers to it by urn::id.
        if resource["type"] != KEYCLOAK_PROVIDER:
            resource["id"] = source["id"]
        for field in ("inputs", "outputs"):
            own_code = {k: v for k, v in (resource.get(field) or {}).items() if k == PICKLED_CODE}
            resource[field] = {**_data(source.get(field) or {}), **own_code}
    return grafted
