"""The catch-all MANAGE rule as a pure function of a permission's properties."""

from __future__ import annotations

from typing import Any

import pytest
from stack_policies.mlflow_permissions import no_catch_all_manage
from stack_policies.props import UNKNOWN
from stack_policies.resource_types import DYNAMIC
from stack_policies.rule import Resource

from stackrules.mlflow_permissions import RESOURCE_MARKER


def grant(**props: Any) -> Resource:
    base = {
        RESOURCE_MARKER: True,
        "subject_kind": "group",
        "subject": "data-science",
        "resource": "experiments",
        "regex": ".*",
        "level": "MANAGE",
    }
    return Resource(DYNAMIC, {**base, **props})


# Patterns with no fixed leading text. "..", "\\w" and ".{2,}" passed while the rule probed sample
# names instead of reading the pattern: they miss only one-letter names.
CATCH_ALLS = [".*", "^.*$", ".+", "[\\s\\S]*", "", "^", "(?!zzz).*", "(?i).*"]
CATCH_ALLS += ["..", "\\w", ".{2,}", "ds-|.*", "d*s", "(?:ds)?", "(ds-)*", "\\Ads-|x"]


@pytest.mark.parametrize("regex", CATCH_ALLS)
def test_manage_without_a_literal_prefix_is_refused(regex: str) -> None:
    [message] = no_catch_all_manage.violations(grant(regex=regex))
    assert f"'data-science' is granted MANAGE on pattern {regex!r}" in message
    assert "can match every one of the experiments" in message
    assert "mlflow-keycloak-stack:permissions" in message


@pytest.mark.parametrize(
    "props",
    [
        {"regex": "^ds-"},
        {"regex": "^ds-.*"},
        {"regex": "\\Ads-"},
        {"regex": "ds-(a|b)"},
        {"regex": "^churn\\-model$"},  # an exact name, as the stack writes it
        {"regex": "(?i)^ds-"},
        {"regex": "(ds-)x"},
        {"regex": "[d]s-"},
        {"regex": ".*", "level": "EDIT"},
        {"regex": UNKNOWN},
        {RESOURCE_MARKER: None},  # another dynamic resource (an MlflowAccount)
    ],
)
def test_narrow_or_lesser_grants_pass(props: dict[str, Any]) -> None:
    assert no_catch_all_manage.violations(grant(**props)) == []


def test_a_subject_listed_in_the_config_may_hold_it() -> None:
    allowed = {"allowedSubjects": ["data-science"]}
    assert no_catch_all_manage.violations(grant(), allowed) == []
    assert no_catch_all_manage.violations(grant(subject="finance"), allowed) != []
