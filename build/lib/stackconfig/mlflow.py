"""What the MLflow server and its mlflow-oidc-auth plugin are told, on every target.

Declared once: StackConfig is an MlflowConfig, and both MLflow components read it as one. A new
MLflow setting is a field here and its line in components/mlflow_app.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stackconfig.base import ConfigModel
from stackrules.mlflow_permissions import Level


class MlflowConfig(ConfigModel):
    """The MLflow server's own settings."""

    mlflow_workers: Annotated[int, Field(ge=1, le=16)] = 1
    """Worker processes of the MLflow server (`mlflow server --workers`). More serve more
    requests (4 gave 1.43x on 2 vCPUs, docs/performance.md), but the plugin caches permissions
    per process: a revoked permission then lasts up to 30 s on the other workers."""
    provision_on_bearer_auth: bool = True
    """Create an MLflow user on a valid bearer token's first use (issuer and audience are
    checked). Must stay true: the stack's own admin account, which offboards people, is created
    that way."""
    default_mlflow_permission: Level = "NO_PERMISSIONS"
    """MLflow permission of a signed-in user on resources nobody granted (READ, EDIT, MANAGE,
    NO_PERMISSIONS)."""
    mlflow_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """How much the MLflow server logs (MLFLOW_LOGGING_LEVEL; DEBUG to trace a sign-in)."""
