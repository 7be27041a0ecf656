"""The stack's own certificate authority and the edge proxy's certificate (`tls: internal`).

Both are Pulumi dynamic resources whose keys live in the stack's state as secrets, so they
survive the proxy being recreated and appear as outputs at once: the CA's certificate is the
stack output `rootCaCertificate`, which people add to their trust store (docs/https.md).
The CA lives 10 years; the site certificate 397 days at most (what browsers accept) and is
re-issued by `pulumi up` when its hostnames change or when less than 30 days remain.

The CA may only sign for the stack's hostnames (a critical NameConstraints extension, which
browsers and OpenSSL enforce): its key sits in the state, and whoever reads it must not be able
to mint a certificate for any other site a trusting machine visits. A hostname outside them
needs a new CA, to be trusted again. pulumi-tls (the house's library for certificates) cannot
write NameConstraints, hence `cryptography`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.stack_component import secret_outputs

CA_DAYS = 3650
SITE_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=30)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def new_authority(common_name: str, permitted: Sequence[str]) -> dict[str, str]:
    """A self-signed CA that may sign server certificates only (path length 0), for the
    `permitted` hostnames (and names below them) only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(host) for host in permitted],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return {"cert_pem": _pem_cert(cert), "key_pem": _pem_key(key)}


def new_site_certificate(
    ca_cert_pem: str, ca_key_pem: str, hostnames: Sequence[str]
) -> dict[str, str]:
    """A server certificate for `hostnames`, signed by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SITE_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hostnames]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return {
        "cert_pem": _pem_cert(cert),
        "key_pem": _pem_key(key),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


class AuthorityProvider(ResourceProvider):
    """Created once; replaced only when it could not sign for the hostnames (a new CA has to
    be trusted again). A CA made before the constraints existed is kept as it is."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        made = new_authority(props["common_name"], props["permitted"])
        return CreateResult(props["common_name"], {**props, **made})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["common_name"] if olds.get("common_name") != news["common_name"] else []
        permitted = olds.get("permitted")
        if permitted is not None and not set(news["permitted"]) <= set(permitted):
            replaces.append("permitted")
        return DiffResult(changes=bool(replaces), replaces=replaces)


class SiteCertificateProvider(ResourceProvider):
    """Issued on create; replaced when the hostnames or the CA change, or renewal is due."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        made = new_site_certificate(props["ca_cert_pem"], props["ca_key_pem"], props["hostnames"])
        return CreateResult(",".join(props["hostnames"]), {**props, **made})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in ("hostnames", "ca_cert_pem") if olds.get(key) != news[key]]
        not_after = olds.get("not_after")
        if not_after and dt.datetime.fromisoformat(not_after) - _now() < RENEW_BEFORE:
            replaces.append("not_after")
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)


class CertificateAuthority(Resource):
    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        common_name: str,
        permitted: Sequence[str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {"common_name": common_name, "permitted": list(permitted)}
        super().__init__(
            AuthorityProvider(),
            name,
            {**props, "cert_pem": None, "key_pem": None},
            secret_outputs(opts, "key_pem"),
        )


class SiteCertificate(Resource):
    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        authority: CertificateAuthority,
        hostnames: Sequence[str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__(
            SiteCertificateProvider(),
            name,
            {
                "ca_cert_pem": authority.cert_pem,
                "ca_key_pem": authority.key_pem,
                "hostnames": list(hostnames),
                "cert_pem": None,
                "key_pem": None,
                "not_after": None,
            },
            secret_outputs(opts, "key_pem", "ca_key_pem"),
        )
