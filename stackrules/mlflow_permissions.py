"""MLflow permissions as the stack declares them: the kinds, levels and selectors that the
config model, the MlflowPermission provider and the policy pack share.

mlflow-oidc-auth grants on names by regular expression (`re.match`, anchored at the start
only), for a group or a single user, per resource kind. An exact name is the pattern that
matches that one name, so a grant can exist before the experiment does.
"""

from __future__ import annotations

import re
from typing import Literal

# The marker input of every MlflowPermission resource: how the policy pack tells them from the
# stack's other dynamic resources.
RESOURCE_MARKER = "mlflowPermission"

Level = Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"]
ResourceKind = Literal["experiments", "registeredModels", "prompts"]
SubjectKind = Literal["group", "user"]

# The plugin's route segment of each kind's pattern grants, under
# /api/2.0/mlflow/permissions/{groups|users}/<subject>/.
PATTERN_ROUTES: dict[str, str] = {
    "experiments": "experiment-patterns",
    "registeredModels": "registered-models-patterns",
    "prompts": "prompts-patterns",
}
SUBJECT_ROUTES: dict[str, str] = {"group": "groups", "user": "users"}

# Names no real selector would match all of at once; a pattern matching every one of them
# grants on everything (".*", ".+", "^.*$", "[\\s\\S]*", "").
_UNRELATED_NAMES = ("a", "Z", "0", "finance-q3", "ds-churn", "shared/model", " x", "ü")


def exact_name_pattern(name: str) -> str:
    """The pattern that matches `name` and nothing else."""
    return f"^{re.escape(name)}$"


def pattern_problem(pattern: str) -> str | None:
    """Why the plugin would refuse `pattern`, or None. It compiles patterns with Python's `re`,
    so the preview sees the same error the API would give at `up`."""
    if not pattern:
        return "is empty; it would match every name. Use '.*' if that is meant"
    if len(pattern) > 1024:
        return "is longer than 1024 characters (the plugin's limit)"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"is not a regular expression ({error})"
    return None


def matches_everything(pattern: str) -> bool:
    """Whether a grant of `pattern` covers every name there is, present and future."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return False
    return all(compiled.match(name) for name in _UNRELATED_NAMES)
