"""The emulator's own channel, beside the planes, for a served emulator's clients: the credentials it
issued, and its clock. Only a caller holding the key `cmkctl sandbox serve` printed gets an answer
(its secret part, as a bearer token). Not a cloud's API: never journalled, never faulted.

    GET  /_sandbox/session  -> {"issued": {...}, "clockOffset": seconds}
    POST /_sandbox/clock    {"atLeast": seconds} -> {"clockOffset": seconds}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from cmkctl_sandbox.credentials import Issued, bearer_token, same_secret
from cmkctl_sandbox.wire import Reply, Request

PREFIX = "/_sandbox/"


def is_control(request: Request) -> bool:
    return request.path.startswith(PREFIX)


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": {"code": "SandboxControl", "message": message}})


def answer(request: Request, *, secret: str | None, issued: Issued, offset: Callable[[], float],
           advance: Callable[[float], float]) -> Reply:
    if secret is None:
        return _error(404, "this emulator is not served: it has no control channel")
    token = bearer_token(request.header("authorization"))
    if not token or not same_secret(token, secret):
        return _error(401, "the control channel needs the key `cmkctl sandbox serve` printed")
    route = (request.method, request.path.removeprefix(PREFIX).rstrip("/"))
    if route == ("GET", "session"):
        return Reply(200, {"issued": issued.to_json(), "clockOffset": offset()})
    if route == ("POST", "clock"):
        return _clock(request, advance)
    return _error(404, f"no control operation {request.method} {request.path}")


def _clock(request: Request, advance: Callable[[float], float]) -> Reply:
    try:
        body: Any = request.json()
    except ValueError:
        body = None
    at_least = body.get("atLeast") if isinstance(body, dict) else None
    if isinstance(at_least, bool) or not isinstance(at_least, int | float) or not math.isfinite(at_least):
        return _error(400, "atLeast: a number of seconds is expected")
    return Reply(200, {"clockOffset": advance(float(at_least))})
