"""Which plane serves which path. New planes (Confluent, AWS KMS) are one more entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.sandbox import arm, astra, graph
from reconciler.sandbox.wire import Reply, Request, State


@dataclass(frozen=True)
class Plane:
    name: str
    prefixes: tuple[str, ...]
    handle: Callable[[Request, State], Reply]
    unauthorized: Callable[[Request], Reply]


PLANES: tuple[Plane, ...] = (
    Plane("arm", ("/subscriptions/", "/providers/"), arm.handle, arm.unauthorized),
    Plane("graph", ("/v1.0/",), graph.handle, graph.unauthorized),
    Plane("astra", ("/v2/",), astra.handle, astra.unauthorized),
)


def plane_for(path: str) -> Plane | None:
    lowered = path.lower()
    return next((p for p in PLANES if any(lowered.startswith(x.lower()) for x in p.prefixes)), None)
