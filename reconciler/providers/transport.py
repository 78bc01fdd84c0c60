"""What every HTTP client of a run shares, whatever configured it: HTTPS only for anything that
carries a credential, loopback never through a proxy, the run's host mappings and its clock.

- HTTPS: a client refuses, before its first request and before each one, any URL that is not
  https: a credential (a bearer token, a SharedKey signature, a SAS, an AWS signature) never goes
  out in clear, whether the URL came from cmkctl's flags, a manifest, `AWS_ENDPOINT_URL*`, an AWS
  config file's `endpoint_url` or a storage connection string.
- Proxies: as Go's net/http decides (golang.org/x/net/http/httpproxy, `useProxy`): a loopback
  host is never sent through a proxy; every other host honours the environment
  (HTTPS_PROXY, NO_PROXY), as each SDK reads it.
- Host mappings (`Endpoints.routes`): connections to a mapped host go to its loopback address,
  while TLS verifies, and the Host header names, the mapped host. Only loopback targets.
- Waits: azure-core's retry backoff, its Retry-After waits and its long-running-operation polls
  all sleep through the transport; the transport sleeps on the run's clock.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from reconciler.core.clock import Clock
from reconciler.core.errors import ProviderError
from reconciler.providers.base import HostRoute

# Connections per host a client keeps: the planner and the executor run up to --parallelism calls at once.
POOL_SIZE = 64
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60


def is_loopback(host: str | None) -> bool:
    """A literal loopback address (127.0.0.0/8, ::1) or `localhost`."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_plain_http(url: str, *, plane: str) -> None:
    """Refuse a URL that is not https: a credential would go out in clear."""
    if urlsplit(url).scheme.lower() != "https":
        raise ProviderError(f"{plane}: refusing to send a request to {_shown(url)}: it is not https, and the request "
                            "carries a credential; cmkctl only talks HTTPS", plane=plane)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query: a SAS would be in it


def checked_routes(routes: Sequence[HostRoute]) -> tuple[HostRoute, ...]:
    for route in routes:
        if not is_loopback(route.address):
            raise ProviderError(f"a host mapping may only send {route.suffix} to a loopback address, not "
                                f"{route.address}", plane="arm")
    return tuple(routes)


def route_for(routes: Sequence[HostRoute], host: str | None) -> HostRoute | None:
    return next((r for r in routes if host and r.serves(host)), None)


@functools.cache
def _adapter_class() -> type[Any]:
    from requests.adapters import HTTPAdapter

    class RoutingAdapter(HTTPAdapter):
        """requests' adapter, with the run's host mappings and the loopback rule for proxies."""

        def __init__(self, routes: tuple[HostRoute, ...], **kwargs: Any) -> None:
            self._routes = routes
            super().__init__(**kwargs)

        def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            route = route_for(self._routes, host_params.get("host"))
            if route is None:
                return host_params, pool_kwargs
            host = host_params["host"]
            return ({"scheme": "https", "host": route.address, "port": route.port},
                    {**pool_kwargs, "server_hostname": host, "assert_hostname": host})

        def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
                 cert: Any = None, proxies: Any = None) -> Any:
            refuse_plain_http(request.url, plane="azure")
            parts = urlsplit(request.url)
            routed = route_for(self._routes, parts.hostname) is not None
            if routed:
                request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
            if routed or is_loopback(parts.hostname):
                proxies = {}
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)

    return RoutingAdapter


@functools.cache
def _transport_class() -> type[Any]:
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    class PlaneTransport(RequestsTransport):  # type: ignore[misc]
        """azure-core's requests transport on the run's clock and host mappings, HTTPS only."""

        def __init__(self, *, clock: Clock, routes: tuple[HostRoute, ...], **kwargs: Any) -> None:
            self._clock = clock
            self._routes = routes
            super().__init__(**kwargs)

        def _init_session(self, session: Any) -> None:
            super()._init_session(session)
            # As azure-core mounts its own: requests retries nothing, azure-core's policy does.
            adapter = _adapter_class()(self._routes, max_retries=Retry(total=False, redirect=False,
                                                                         raise_on_status=False),
                                       pool_maxsize=POOL_SIZE)
            for prefix in self._protocols:
                session.mount(prefix, adapter)

        def sleep(self, duration: float) -> None:
            self._clock.sleep(duration)

    return PlaneTransport


def azure_transport(*, clock: Clock, routes: Sequence[HostRoute], ca_bundle: str | None) -> Any:
    """A transport for one azure-core client (ARM, Key Vault's data plane, Blob Storage)."""
    kwargs: dict[str, Any] = {"connection_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT}
    if ca_bundle is not None:
        kwargs["connection_verify"] = ca_bundle
    return _transport_class()(clock=clock, routes=checked_routes(routes), **kwargs)
