"""The stack's internal CA signs for the stack's hostnames only, as a real TLS client (OpenSSL,
through Python's ssl) judges it: its key sits in the state, and a certificate minted with it
for any other site is refused by a machine that trusts the CA."""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from pathlib import Path

from components.docker.certificates import new_authority, new_site_certificate

HOSTS = ("mlflow.example.com", "auth.example.com")


def refusal(site: dict[str, str], ca_pem: str, hostname: str) -> str | None:
    """Why a TLS client that trusts only `ca_pem` refuses a server presenting `site` as
    `hostname`; None when it accepts it."""
    with tempfile.TemporaryDirectory() as scratch:
        cert, key = Path(scratch, "cert.pem"), Path(scratch, "key.pem")
        cert.write_text(site["cert_pem"])
        key.write_text(site["key_pem"])
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with server.wrap_socket(connection, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass  # the client hung up on the certificate

    thread = threading.Thread(target=serve)
    thread.start()
    client = ssl.create_default_context(cadata=ca_pem)
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=10) as raw,
            client.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            tls.sendall(b"x")
        return None
    except ssl.SSLCertVerificationError as refused:
        return str(refused.verify_message)
    finally:
        thread.join(10)
        listener.close()


def test_the_stacks_own_certificate_is_accepted_for_each_hostname() -> None:
    authority = new_authority("test CA", HOSTS)
    site = new_site_certificate(authority["cert_pem"], authority["key_pem"], HOSTS)
    for host in HOSTS:
        assert refusal(site, authority["cert_pem"], host) is None


def test_a_certificate_for_another_site_minted_with_the_ca_key_is_refused() -> None:
    authority = new_authority("test CA", HOSTS)
    rogue = new_site_certificate(authority["cert_pem"], authority["key_pem"], ["bank.example"])
    assert refusal(rogue, authority["cert_pem"], "bank.example") == "permitted subtree violation"
