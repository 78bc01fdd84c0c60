"""A throwaway certificate authority: the SDKs insist on HTTPS once a bearer token is involved."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

CA_FILE = "ca.pem"
HOST = "127.0.0.1"


def server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A TLS context for the loopback server, and the CA bundle (written to DIR) that trusts it."""
    authority = trustme.CA()
    certificate = authority.issue_cert(HOST, "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    bundle = directory / CA_FILE
    authority.cert_pem.write_to_path(str(bundle))
    return context, bundle
