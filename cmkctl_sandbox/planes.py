"""Which plane serves which path. New planes (Confluent, AWS KMS) are one more entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cmkctl_sandbox import arm, astra, confluent, graph, keyvault_data
from cmkctl_sandbox.wire import Reply, Request, State, has_bearer_token


@dataclass(frozen=True)
class Plane:
    name: str
    prefixes: tuple[str, ...]
    handle: Callable[[Request, State], Reply]
    unauthorized: Callable[[Request], Reply]
    # Whether the request carries the plane's kind of credentials (most want a bearer token).
    authenticated: Callable[[Request], bool] = has_bearer_token


PLANES: tuple[Plane, ...] = (
    Plane("arm", ("/subscriptions/", "/providers/"), arm.handle, arm.unauthorized),
    Plane("graph", ("/v1.0/",), graph.handle, graph.unauthorized),
    Plane("astra", ("/v2/",), astra.handle, astra.unauthorized),
    Plane("confluent", ("/byok/v1/", "/cmk/v2/"), confluent.handle, confluent.unauthorized, confluent.has_basic_auth),
    Plane("keyvault", (keyvault_data.PREFIX,), keyvault_data.handle, keyvault_data.unauthorized,
          keyvault_data.authenticated),
)


def plane_for(path: str) -> Plane | None:
    lowered = path.lower()
    return next((p for p in PLANES if any(lowered.startswith(x.lower()) for x in p.prefixes)), None)
