"""Pulumi components of the MLflow + Keycloak SSO stack."""
