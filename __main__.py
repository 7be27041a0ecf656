"""MLflow behind Keycloak single sign-on, as one Pulumi stack: wiring only."""

from components.docker.destroy_guard import destroy_guard
from stackconfig import load_config
from wiring import on_docker, on_kubernetes

cfg = load_config()
with destroy_guard(protect=cfg.protect_data):
    if cfg.target == "kubernetes":
        on_kubernetes.deploy(cfg)
    else:
        on_docker.deploy(cfg)
