"""Rules on the MLflow permissions the stack declares (MlflowPermission resources)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackrules.mlflow_permissions import RESOURCE_MARKER, literal_prefix

from .props import is_unknown
from .resource_types import DYNAMIC
from .rule import Resource, config_key, names_option, rule

ALLOWED_SUBJECTS = names_option(
    "allowedSubjects",
    "Teams (or users, by their MLflow username) that may hold MANAGE on every name of a kind.",
)


@rule("mlflow-no-catch-all-manage", DYNAMIC, config=ALLOWED_SUBJECTS)
def no_catch_all_manage(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No team or user is granted MANAGE on a pattern without a literal prefix (`.*`, `..`,
    `\\w+`, `a|.*`), unless the pack config lists it in allowedSubjects: such a pattern may match
    every name, and MANAGE lets them grant and revoke others' access to everything of that
    kind, now and in future. `^ds-` or an exact name is scoped; the prefix is read from the
    pattern's parse (stackrules.mlflow_permissions.literal_prefix), not guessed from samples.
    """
    props = resource.props
    if props.get(RESOURCE_MARKER) is not True:
        return
    regex, level, subject = props.get("regex"), props.get("level"), props.get("subject")
    if is_unknown(regex) or level != "MANAGE" or not isinstance(regex, str):
        return
    if subject in set(config.get("allowedSubjects") or []):
        return
    if not literal_prefix(regex):
        kind = props.get("resource", "resources")
        yield (
            f"{props.get('subject_kind', 'subject')} {subject!r} is granted MANAGE on pattern "
            f"{regex!r}, which does not start with literal text, so it can match every one of "
            f"the {kind}: they could change anyone's access to all of them. Fix: start the "
            f"pattern with a literal prefix (e.g. '^ds-') in the stack config "
            f"{config_key('permissions')}, grant EDIT, or list the subject in this policy's "
            "allowedSubjects."
        )
