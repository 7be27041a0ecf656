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


@pytest.mark.parametrize("regex", [".*", "^.*$", ".+", "[\\s\\S]*", "", "^"])
def test_manage_on_every_name_is_refused(regex: str) -> None:
    [message] = no_catch_all_manage.violations(grant(regex=regex))
    assert "'data-science' is granted MANAGE on every one of the experiments" in message
    assert "mlflow-keycloak-stack:permissions" in message


@pytest.mark.parametrize(
    "props",
    [
        {"regex": "^ds-"},
        {"regex": "^ds-.*"},
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
