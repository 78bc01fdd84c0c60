"""The HTTPS seam shared by Graph and Astra: https only, transport errors are transient."""

from __future__ import annotations

import email.utils
import ssl
import time

import httpx
import pytest

from reconciler.core.errors import ProviderError, TransientError
from reconciler.providers.https import new_client, require_https, retry_after, send, tls_verify


def test_plain_http_is_refused() -> None:
    with pytest.raises(ProviderError, match="not https"):
        require_https("http://127.0.0.1:8443", plane="astra")
    with pytest.raises(ProviderError, match="not https"):
        new_client("http://api.astra.datastax.com", plane="astra", ca_bundle=None)


def test_https_url_loses_its_trailing_slash() -> None:
    assert require_https("https://graph.microsoft.com/", plane="graph") == "https://graph.microsoft.com"


def test_ca_bundle_becomes_an_ssl_context(tmp_path: object) -> None:
    import certifi  # httpx's own default store: a valid bundle to load

    assert tls_verify(None) is True
    assert isinstance(tls_verify(certifi.where()), ssl.SSLContext)


def test_retry_after_reads_seconds_and_dates() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(response("7")) == 7.0
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    delay = retry_after(response(later))
    assert delay is not None and 50 < delay <= 60
    assert retry_after(response("soon")) is None
    assert retry_after(httpx.Response(503)) is None


def test_connection_failure_is_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(base_url="https://astra.test", transport=httpx.MockTransport(refuse))
    with pytest.raises(TransientError) as excinfo:
        send(client, "GET", "/v2/kms", plane="astra", headers={"Authorization": "Bearer x"})
    assert excinfo.value.code == "connection"
