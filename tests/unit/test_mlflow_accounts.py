"""The account provider's decisions on what the state and the config say (the plugin's side is
proven end to end in tests/e2e/test_09_offboarding.py)."""

from __future__ import annotations

from typing import Any

import pytest

from components.mlflow_accounts import DisabledOutOfBandError, MlflowAccountProvider

API = {"mlflow_url": "u", "token_url": "t", "client_id": "c", "client_secret": "s"}


def account(active: bool, **state: Any) -> dict[str, Any]:
    return {**API, "username": "lena@example.com", "person": "lena", "active": active, **state}


def test_an_account_deactivated_out_of_band_stops_the_update_that_would_let_them_in() -> None:
    refreshed = account(False, declared=True)
    provider = MlflowAccountProvider()
    assert provider.diff("lena@example.com", refreshed, account(True)).changes
    with pytest.raises(DisabledOutOfBandError) as stopped:
        provider.update("lena@example.com", refreshed, account(True))
    said = str(stopped.value)
    assert "enabled: false on lena" in said and "stackctl users enable lena" in said


@pytest.mark.parametrize(
    ("olds", "news", "changes"),
    [
        # The config let her in again after it had kept her out: that is the operator's call.
        (account(False, declared=False), account(True), True),
        # Kept out out of band, and now by the config too: nothing to do.
        (account(False, declared=True), account(False), False),
        (account(True, declared=True), account(True), False),
        # State written before `declared` existed: judged as before.
        (account(False), account(True), True),
    ],
)
def test_every_other_combination_is_an_ordinary_diff(
    olds: dict[str, Any], news: dict[str, Any], changes: bool
) -> None:
    assert MlflowAccountProvider().diff("lena@example.com", olds, news).changes is changes
