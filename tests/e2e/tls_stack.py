"""The session's HTTPS stack: `tls: internal` with two MLflow servers behind the edge proxy.

tests/e2e/test_13_tls.py proves HTTPS on it; tests/e2e/test_14_tls_files.py then switches it
to `tls: files` (only the edge proxy changes) rather than standing up a stack of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stackrules.names import resource_prefix
from stackrules.versions import pinned_versions
from tests.support.deployment import Deployment, e2e_config, log, remove_leftovers

STACK = "tls"
PORTS = {
    "keycloakPort": 18083,
    "mlflowPort": 15003,
    "mlflowDbPort": 25438,
    "keycloakDbPort": 25439,
    "httpsPort": 18443,
    "httpPort": 18880,
}
HOSTS = ["mlflow.localhost", "auth.localhost"]


@contextmanager
def tls_stack() -> Iterator[Deployment]:
    remove_leftovers(log, resource_prefix(STACK))
    with tempfile.TemporaryDirectory() as scratch:
        config: dict[str, Any] = {
            **e2e_config(),
            **PORTS,
            "tls": "internal",
            "proxyImage": pinned_versions()["LOCAL_CADDY_IMAGE"],
            "mlflowReplicas": 2,
        }
        deployed = Deployment.create(Path(scratch), log, STACK, config)
        try:
            yield deployed
        finally:
            if not deployed.destroyed:  # test_14 destroys it when it is done with it
                deployed.destroy(log)
