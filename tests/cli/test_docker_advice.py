"""What toolchain/docker-engine.sh tells a user whose Docker does not answer: the real script,
run as a user outside the `docker` group against this machine's running engine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.workdir import REPO

NOBODY = 65534


def test_a_user_outside_the_docker_group_is_told_to_join_it_not_sent_to_apt(
    tmp_path: Path,
) -> None:
    if os.getuid() != 0:
        pytest.fail("this test switches to another user: run the CLI tier as root", pytrace=False)
    assert subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    tmp_path.chmod(0o777)
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         "bash", str(REPO / "toolchain/docker-engine.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "your user may not use the Docker engine" in said, said
    assert "Fix: sudo usermod -aG docker nobody, then log out and in again" in said, said
    assert "apt-get" not in said and "starting dockerd" not in said, said
    # The engine it left alone still answers.
    assert subprocess.run(["docker", "info"], capture_output=True).returncode == 0
