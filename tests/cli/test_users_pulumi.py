"""The user's own Pulumi: a `pulumi login` of theirs is where the project's wrapper puts
stacks; without one, the project's file backend. The real scripts/pulumi.sh and Pulumi CLI."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from tests.support.workdir import REPO


def wrapper(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "pulumi.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_users_own_login_is_where_the_wrapper_puts_stacks(tmp_path: Path) -> None:
    home, theirs, ours = tmp_path / "pulumi-home", tmp_path / "their-state", tmp_path / "ours"
    theirs.mkdir()
    # A project of its own (--cwd), so the stack's file is not written into the checkout.
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: mks-login-probe\nruntime: python\n")
    # The CLI found on PATH (the toolchain's), so no plugins are installed into their home.
    unset = ("PULUMI_BACKEND_URL", "MKS_PULUMI_MIRROR")
    env = {
        **{k: v for k, v in os.environ.items() if k not in unset},
        "PULUMI_HOME": str(home),
        "MKS_STATE_DIR": str(ours),
        # A cache of its own: toolchain/pulumi.sh rewrites the cache's pulumi-env.sh, which
        # every other tier sources (with this PULUMI_HOME in it, they found no plugins).
        "MKS_CACHE": str(tmp_path / "cache"),
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
    }
    login = subprocess.run(
        ["pulumi", "login", f"file://{theirs}"], env=env, capture_output=True, text=True
    )
    assert login.returncode == 0, login.stderr
    made = wrapper(
        env, "stack", "init", "mks-their-backend", "--secrets-provider", "passphrase",
        "--cwd", str(project),
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"using your login, file://{theirs}" in made.stderr
    assert list(theirs.rglob("mks-their-backend*")), "the stack is not in their backend"
    assert not ours.exists(), "the project's own file backend was used"
    logout = subprocess.run(["pulumi", "logout"], env=env, capture_output=True, text=True)
    assert logout.returncode == 0, logout.stderr
    listed = wrapper(env, "stack", "ls", "--cwd", str(project))
    assert listed.returncode == 0, listed.stderr
    assert "mks-their-backend" not in listed.stdout  # logged out: the project's backend
    assert ours.is_dir()
