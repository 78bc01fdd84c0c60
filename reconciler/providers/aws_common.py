"""boto3 sessions and clients as every run makes them: HTTPS only, whatever configured the endpoint.

botocore takes endpoints from many places besides cmkctl (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KMS`,
`_STS`, `_DYNAMODB`, an AWS config file's `endpoint_url`, per service or per profile). So a client is
checked twice: its resolved endpoint (`client.meta.endpoint_url`) when it is made, before its first
request, and every request it sends, in a `before-send` hook registered on the session, which also
covers the clients botocore makes for itself (an assumed role's STS). A request that would leave in
clear is refused with the signed request never sent.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.errors import ProviderError
from reconciler.providers.transport import CONNECT_TIMEOUT, READ_TIMEOUT, is_loopback, refuse_plain_http


def _refuse_plain_http(request: Any, **kwargs: Any) -> None:
    refuse_plain_http(str(request.url), plane="aws")


def https_only_session(session: Any) -> Any:
    """A boto3 session whose every client refuses to send a request that is not https."""
    session.events.register("before-send", _refuse_plain_http)
    return session


def https_only_client(client: Any) -> Any:
    """`client`, refused when botocore resolved a plain-http endpoint for it (nothing was sent)."""
    url = str(client.meta.endpoint_url)
    try:
        refuse_plain_http(url, plane="aws")
    except ProviderError:
        client.close()
        raise
    client.meta.events.register("before-send", _refuse_plain_http)
    return client


def client_config(endpoint: str | None, **retries: Any) -> Any:
    """botocore's configuration: timeouts, and no proxy for a loopback endpoint (the environment's otherwise)."""
    from urllib.parse import urlsplit

    from botocore.config import Config

    proxies: dict[str, Any] = {"proxies": {}} if endpoint and is_loopback(urlsplit(endpoint).hostname) else {}
    return Config(user_agent_extra="cmkctl", connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  **({"retries": retries} if retries else {}), **proxies)
