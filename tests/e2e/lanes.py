"""The end-to-end suite's two lanes, which scripts/test.sh runs side by side with
MKS_E2E_LANES=2 (issue 22; on 2 cores one lane is the default: docs/performance.md).

The `shared` lane holds the session's shared stack (the `deployment` fixture) and every
file that uses it; the `own` lane holds files that each bring up a stack of their own (own
names, own ports). A file brings up its stack and destroys it in its own fixture, so the lanes
touch nothing of each other's.

Files in `QUIET` run last in their lane, and only once the other lane has finished: the
faults test restarts the Docker engine (every container on it restarts), and the destroy test
checks that nothing the suite made is left on the engine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

# Lane -> test files, balanced by their wall time in the suite's own output (`wall time per
# test file`): the lane holding the shared stack also runs the released code's stack. Measured
# 2026-12-07: shared 1447 s (18 s of it waiting), own 1292 s.
LANES: dict[str, tuple[str, ...]] = {
    "shared": (
        "test_00_leftovers.py",
        "test_01_up.py",
        "test_02_browser_login.py",
        "test_03_permissions.py",
        "test_04_api_access.py",
        "test_05_token_policy.py",
        "test_06_revocation.py",
        "test_07_idempotency_and_drift.py",
        "test_08_data_survives.py",
        "test_09_offboarding.py",
        "test_10_stackctl.py",
        "test_11_stackctl_from_pulumi_state.py",
        "test_12_upgrade_keeps_data.py",
        "test_16_faults.py",
        "test_18_teams_permissions.py",
        "test_19_second_factor.py",
        "test_20_identity_brokering.py",
        "test_21_ldap.py",
        "test_22_initial_passwords.py",
        "test_99_destroy.py",
    ),
    "own": (
        "test_13_tls.py",
        "test_14_tls_files.py",
        "test_15_backup_restore.py",
        "test_17_upgrade_pins.py",
        "test_23_acme.py",
    ),
}
QUIET = ("test_16_faults.py", "test_99_destroy.py")
# scripts/test.sh names a file the other lane's runner creates when that lane has ended.
OTHER_LANE_DONE = "MKS_E2E_OTHER_LANE_DONE"
OTHER_LANE_TIMEOUT = 3600.0


def lane_of(filename: str) -> str:
    """The lane a test file runs in; a file in none is an error, never a silent skip."""
    found = [lane for lane, files in LANES.items() if filename in files]
    if len(found) != 1:
        raise LookupError(
            f"tests/e2e/{filename} is in {len(found)} lanes of tests/e2e/lanes.py "
            f"({', '.join(found) or 'none'}): put it in exactly one of {', '.join(LANES)}"
        )
    return found[0]


def runs_last(filename: str) -> bool:
    return filename in QUIET


def wait_for_other_lane(log: Callable[[str], None]) -> float:
    """Seconds waited until the other lane ended (0 when no other lane runs)."""
    marker = os.environ.get(OTHER_LANE_DONE)
    if not marker:
        return 0.0
    started = time.monotonic()
    said = started
    while not Path(marker).exists():
        waited = time.monotonic() - started
        if waited > OTHER_LANE_TIMEOUT:
            raise TimeoutError(f"the other e2e lane did not end within {OTHER_LANE_TIMEOUT:.0f} s")
        if time.monotonic() - said >= 60:
            said = time.monotonic()
            log(f"waiting for the other e2e lane to end before {', '.join(QUIET)} ({waited:.0f} s)")
        time.sleep(2)
    return time.monotonic() - started
