"""The real Pulumi CLI previews the project: a valid stack plans every kind of resource; a bad
value is refused before any resource, naming the key, the value and the fix."""

from __future__ import annotations

from tests.support.project import CliProject


def test_preview_refuses_bad_config_naming_key_value_and_fix(project: CliProject) -> None:
    stack = project.new_stack("lifespan-forever", {"accessTokenLifespan": "forever"})
    preview = project.run("preview", "--stack", stack)
    assert preview.returncode != 0
    out = preview.stdout + preview.stderr
    assert "mlflow-keycloak-stack:accessTokenLifespan = 'forever'" in out
    assert f"Fix: scripts/pulumi.sh config set --stack {stack} accessTokenLifespan" in out
    assert "Traceback" not in out
    # Refused before any resource: nothing but the stack itself was attempted.
    assert "pulumi:providers:" not in out and "docker:index" not in out


def test_preview_of_a_valid_stack_creates_every_resource(project: CliProject) -> None:
    stack = project.new_stack("valid", {})
    preview = project.run("preview", "--diff", "--stack", stack)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    for token in (
        "docker:index/container:Container",
        "keycloak:index/realm:Realm",
        "keycloak:openid/client:Client",
        "postgresql:index/database:Database",
        "random:index/randomPassword:RandomPassword",
    ):
        assert token in preview.stdout
