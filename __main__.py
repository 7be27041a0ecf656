"""MLflow behind Keycloak single sign-on, as one Pulumi stack: wiring only."""

from components.config import load_config
from wiring import on_docker, on_kubernetes

cfg = load_config()
if cfg.target == "kubernetes":
    on_kubernetes.deploy(cfg)
else:
    on_docker.deploy(cfg)
