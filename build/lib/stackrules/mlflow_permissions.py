"""MLflow permissions as the stack declares them: the kinds, levels and selectors that the
config model, the MlflowPermission provider and the policy pack share.

mlflow-oidc-auth grants on names by regular expression (`re.match`, anchored at the start
only), for a group or a single user, per resource kind. An exact name is the pattern that
matches that one name, so a grant can exist before the experiment does.
"""

from __future__ import annotations

import re
import re._parser as regex_parser  # type: ignore[import-not-found, unused-ignore]
from typing import Any, Literal

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


_START_ANCHORS = (regex_parser.AT_BEGINNING, regex_parser.AT_BEGINNING_STRING)


def literal_prefix(pattern: str) -> str:
    # `re._parser` is the parser `re.compile` itself runs (typeshed has no stub for it).
    """The text that begins every name `pattern` matches (under `re.match`), '' if none.

    A grant scoped to a prefix (`^ds-`, `^churn\\-model$`) covers that family of names only; a
    pattern without one (`.*`, `..`, `\\w+`, `a|.*`) may cover every name there is, now and in
    future. Decided from the pattern's parse by the very parser the plugin's `re` uses, so no
    rewriting of the pattern (an alternation, a quantified first letter, a group) hides a
    catch-all; probing sample names cannot tell that.
    """
    try:
        parsed = regex_parser.parse(pattern)
    except re.error:
        return ""
    return _literal_run(list(parsed))[0]


def _literal_run(items: list[Any]) -> tuple[str, bool]:
    """The literal text that `items` (a parsed sequence) start with, and whether that text is
    all of them."""
    prefix = ""
    for opcode, argument in items:
        if opcode is regex_parser.AT and argument in _START_ANCHORS:
            continue  # `^` and `\\A` anchor where `re.match` anchors anyway
        if opcode is regex_parser.LITERAL:
            prefix += chr(argument)
            continue
        if opcode is regex_parser.SUBPATTERN:  # a group: (group, add_flags, del_flags, items)
            inner, whole = _literal_run(list(argument[3]))
            prefix += inner
            if whole:
                continue
        # Anything else (a class, a repeat, a branch, a lookaround) ends the literal text.
        return prefix, False
    return prefix, True
