"""Path routing shared by the planes: a table of (pattern, method -> handler)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cmkctl_sandbox.wire import Reply, Request, State

Params = dict[str, str]
Handler = Callable[[Request, State, Params], Reply]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    handlers: Mapping[str, Handler]


def route(pattern: str, handlers: Mapping[str, Handler]) -> Route:
    # ARM treats path segments case-insensitively ("resourcegroups" appears in real recordings).
    return Route(re.compile(pattern + r"/?$", re.IGNORECASE), handlers)


@dataclass(frozen=True)
class Match:
    handler: Handler | None
    params: Params


def match(routes: Sequence[Route], request: Request) -> Match | None:
    """The handler for the request; `handler` is None when the path exists but not the method."""
    for candidate in routes:
        found = candidate.pattern.match(request.path)
        if found:
            params = {k: v for k, v in found.groupdict().items() if v is not None}
            return Match(candidate.handlers.get(request.method), params)
    return None


def dispatch(
    routes: Sequence[Route],
    request: Request,
    state: State,
    *,
    not_found: Callable[[Request], Reply],
    not_allowed: Callable[[Request], Reply],
    extra: Mapping[str, str] | None = None,
) -> Reply:
    """The reply of the route matching the request; `extra` adds parameters that are not in the path
    (a vault named by the Host header)."""
    found = match(routes, request)
    if found is None:
        return not_found(request)
    if found.handler is None:
        return not_allowed(request)
    return found.handler(request, state, {**found.params, **(extra or {})})
