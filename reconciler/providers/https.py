"""HTTPS plumbing shared by the planes cmkctl talks to with httpx (Graph, Astra).

One `httpx.Client` per plane per run, so calls reuse connections. Every transport failure is
translated here; status codes are left to the plane, which knows its error envelope.
"""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler.core.errors import ProviderError, TransientError
from reconciler.core.wirelog import LOG
from reconciler.providers.transport import is_loopback, refuse_plain_http

# Connect fast, but allow a slow control plane a while to answer.
TIMEOUT = httpx.Timeout(60.0, connect=10.0)

# Statuses worth trying again: throttling, a timeout at a gateway, a server error.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def require_https(url: str, *, plane: str) -> str:
    """Return `url` without a trailing slash, refusing anything but https.

    Tokens travel in headers; a plain-http endpoint (a typo, a proxy) would leak them.
    """
    if not url.lower().startswith("https://"):
        raise ProviderError(f"{plane} endpoint {url!r} is not https; cmkctl only talks HTTPS", plane=plane)
    return url.rstrip("/")


def tls_verify(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """Trust `ca_bundle` only (the emulator's CA) when given, else the default store."""
    if ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=ca_bundle)


def new_client(base_url: str, *, plane: str, ca_bundle: str | None) -> httpx.Client:
    """The plane's client. A loopback endpoint is never reached through a proxy (providers/transport.py):
    the environment's proxy settings are read only for other hosts. Every request is checked to be
    https before it leaves, whatever its URL (an absolute one, a next link)."""
    # Redirects stay off: a redirect could carry the bearer token to another host.
    def https_only(request: httpx.Request) -> None:
        refuse_plain_http(str(request.url), plane=plane)

    def logged(response: httpx.Response) -> None:
        request = response.request
        LOG.exchange(plane=plane, method=request.method, url=str(request.url), status=response.status_code,
                     request_headers=request.headers, response_headers=response.headers, request_body=request.content)

    return httpx.Client(
        base_url=require_https(base_url, plane=plane),
        verify=tls_verify(ca_bundle),
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"Accept": "application/json", "User-Agent": "cmkctl"},
        event_hooks={"request": [https_only], "response": [logged]},
        trust_env=not is_loopback(urlsplit(base_url).hostname),
    )


def send(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    plane: str,
    headers: Mapping[str, str],
    json: Any = None,
    params: Mapping[str, str | int] | None = None,
) -> httpx.Response:
    """One request; connection-level failures become TransientError (the engine retries)."""
    try:
        return client.request(method, path, headers=dict(headers), json=json, params=params)
    except httpx.TransportError as e:
        LOG.exchange(plane=plane, method=method, url=path, status=None, error=type(e).__name__)
        # The message names the error class only: httpx texts can hold the URL, never headers,
        # but keep it short and predictable anyway.
        raise TransientError(
            f"{plane}: {method} {path} failed: {type(e).__name__}", plane=plane, code="connection"
        ) from e


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def json_body(response: httpx.Response) -> Any:
    """The decoded body, or None when it is empty or not JSON (errors from proxies often aren't)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def status_error(response: httpx.Response, *, plane: str, what: str, code: str, message: str) -> ProviderError:
    """The error type for a failed status: transient statuses are retried by the engine."""
    # Astra's error ID is often the status itself: "HTTP 503 503" says nothing twice.
    shown = code if code and code != str(response.status_code) else ""
    text = f"{what}: HTTP {response.status_code}" + (f" {shown}" if shown else "") + (f": {message}" if message else "")
    if response.status_code in TRANSIENT_STATUSES:
        return TransientError(
            text, plane=plane, code=code, status=response.status_code, retry_after=retry_after(response)
        )
    return ProviderError(text, plane=plane, code=code, status=response.status_code)
