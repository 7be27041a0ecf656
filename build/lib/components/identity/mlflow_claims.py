"""The claims every client whose tokens reach MLflow must emit."""

from __future__ import annotations

import pulumi
import pulumi_keycloak as keycloak


def add_mlflow_claims(
    name: str,
    realm_id: pulumi.Input[str],
    client: keycloak.openid.Client,
    audience: pulumi.Input[str],
    parent: pulumi.Resource,
) -> None:
    """A flat `groups` claim in ID token, access token and userinfo, and MLflow's client id
    in the access token's `aud`.

    mlflow-oidc-auth matches group names exactly, so the mapper writes "mlflow", not "/mlflow"
    (full_path off); it checks bearer tokens' audience against OIDC_AUDIENCE.
    """
    child = pulumi.ResourceOptions(parent=parent)
    keycloak.openid.GroupMembershipProtocolMapper(
        f"{name}-groups",
        realm_id=realm_id,
        client_id=client.id,
        name="groups",
        claim_name="groups",
        full_path=False,
        add_to_id_token=True,
        add_to_access_token=True,
        add_to_userinfo=True,
        opts=child,
    )
    keycloak.openid.AudienceProtocolMapper(
        f"{name}-audience",
        realm_id=realm_id,
        client_id=client.id,
        name="mlflow-audience",
        included_client_audience=audience,
        add_to_id_token=False,
        add_to_access_token=True,
        opts=child,
    )
