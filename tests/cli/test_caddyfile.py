"""The edge proxy's generated Caddyfile, for each TLS mode, is accepted by the real Caddy of
the test image (`caddy validate`: parsed, adapted, modules provisioned; no listener started),
and the certificate files it names are where the stack uploads them."""

from __future__ import annotations

import subprocess

import pytest

from components.docker.certificates import new_authority, new_site_certificate
from components.docker.edge_proxy import CERT_PATH, CONFIG_PATH, KEY_PATH, Sites, caddyfile
from stackrules.versions import pinned_versions

HOSTS = ("mlflow.localhost", "auth.localhost")


def sites(mode: str, mlflow: tuple[str, ...] = ("mlflow:5000",)) -> Sites:
    public = mode == "acme"
    return Sites(
        mode=mode,
        mlflow_host="mlflow.example.org" if public else HOSTS[0],
        keycloak_host="auth.example.org" if public else HOSTS[1],
        https_port=443 if public else 8443,
        realm="mlflow",
        mlflow_upstreams=mlflow,
        keycloak_upstream="keycloak:8080",
        acme_email="ops@example.org" if public else None,
    )


def validate(
    mode: str, mlflow: tuple[str, ...] = ("mlflow:5000",)
) -> subprocess.CompletedProcess[str]:
    authority = new_authority("test CA", HOSTS)
    site = new_site_certificate(authority["cert_pem"], authority["key_pem"], HOSTS)
    script = (
        f"mkdir -p $(dirname {CERT_PATH}) && cat > {CONFIG_PATH} && "
        f"printf '%s' \"$CERT\" > {CERT_PATH} && printf '%s' \"$KEY\" > {KEY_PATH} && "
        f"caddy validate --config {CONFIG_PATH} --adapter caddyfile"
    )
    return subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "-i",
            "-e",
            f"CERT={site['cert_pem']}",
            "-e",
            f"KEY={site['key_pem']}",
            pinned_versions()["LOCAL_CADDY_IMAGE"],
            "sh",
            "-c",
            script,
        ],
        input=caddyfile(sites(mode, mlflow)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("mode", ["internal", "files", "acme"])
def test_caddy_accepts_the_generated_caddyfile(mode: str) -> None:
    done = validate(mode)
    print(f"--- caddy validate ({mode}): exit {done.returncode}\n{done.stdout}{done.stderr}")
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout + done.stderr


def test_only_keycloaks_public_paths_are_routed_on_its_hostname() -> None:
    text = caddyfile(sites("internal"))
    auth = text[text.index("https://auth.localhost {") :]
    auth = auth[: auth.index("\n}\n")]
    assert "@public path /realms/mlflow/* /resources/*" in auth
    assert "respond 404" in auth
    assert "/admin" not in auth


def test_caddy_accepts_round_robin_over_mlflow_replicas() -> None:
    replicas = ("mlflow:5000", "mlflow-2:5000")
    done = validate("internal", replicas)
    print(f"--- caddy validate (two replicas): exit {done.returncode}\n{done.stderr}")
    assert done.returncode == 0, done.stderr
    text = caddyfile(sites("internal", replicas))
    assert text.count("reverse_proxy mlflow:5000 mlflow-2:5000 {") == 2
    assert text.count("lb_policy round_robin") == 2
