"""HTTPS at the edge proxy: the mode, the host names it certifies and where the certificate
comes from."""

from __future__ import annotations

from typing import Literal

from stackconfig.base import ConfigModel
from stackconfig.types import Hostname, Image, Port
from stackrules.versions import pin

TlsMode = Literal["off", "internal", "files", "acme"]


class TlsConfig(ConfigModel):
    """The edge proxy's keys (Docker target; a cluster's Ingress uses the host names)."""

    tls: TlsMode = "off"
    """HTTPS at an edge proxy (Caddy): off (loopback binds only), internal (the stack's own
    CA; its certificate is the output rootCaCertificate), files (tlsCertificate and tlsKey)
    or acme (public hostnames, acmeEmail)."""
    mlflow_hostname: Hostname = "mlflow.localhost"
    """With TLS: MLflow's host name (cookies are per host, so it differs from Keycloak's)."""
    keycloak_hostname: Hostname = "auth.localhost"
    """With TLS: Keycloak's host name (login pages and the token issuer)."""
    https_port: Port = 8443
    """With TLS: the edge proxy's HTTPS port on bindAddress (443 for acme)."""
    http_port: Port = 8880
    """With TLS: the edge proxy's plain-HTTP port on bindAddress; it redirects to HTTPS (80
    for acme)."""
    acme_email: str | None = None
    """With tls: acme, the account email given to the certificate authority."""
    acme_ca: str | None = None
    """With tls: acme, the ACME directory URL of a private certificate authority (https);
    unset: Let's Encrypt, then ZeroSSL (Caddy's defaults)."""
    acme_ca_root: str | None = None
    """With acmeCa, the PEM root certificate that Caddy trusts for the ACME server's own
    HTTPS, when a public root does not sign it (`pulumi config set acmeCaRoot < root.pem`)."""
    tls_certificate: str | None = None
    """With tls: files, the PEM certificate chain of both hostnames (`pulumi config set
    --secret tlsCertificate < chain.pem`)."""
    tls_key: str | None = None
    """With tls: files, its PEM private key (`pulumi config set --secret tlsKey < key.pem`)."""
    proxy_image: Image = pin("CADDY_IMAGE")
    """Caddy image of the edge proxy with a pinned tag (CADDY_IMAGE in versions.env)."""

    @property
    def ssl_required(self) -> Literal["external", "all"]:
        """Keycloak's HTTPS requirement of the realm: all with TLS; else Keycloak's default
        (external: plain HTTP from loopback and private addresses only)."""
        return "external" if self.tls == "off" else "all"
