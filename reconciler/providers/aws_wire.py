"""botocore's calls reported to the wire log (`reconciler.core.wirelog`): KMS and STS, and the DynamoDB lock.

botocore's events carry the operation and the answer, never the signed request: nothing secret
(the signature, the session token) reaches the log from here.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.wirelog import LOG

PLANE = "aws"
READ_OPERATIONS = ("Describe", "List", "Get")


def observe(client: Any) -> None:
    """Report every call `client` makes, when someone listens (--debug, --audit-log, a watch's tally)."""
    if LOG.observed:
        client.meta.events.register("after-call", logged_call)
        client.meta.events.register("after-call-error", logged_error)


def logged_call(http_response: Any, model: Any, **kwargs: Any) -> None:
    LOG.exchange(plane=PLANE, method="POST", url=f"{model.service_model.service_name}:{model.name}",
                 status=http_response.status_code, response_headers=dict(http_response.headers),
                 mutating=not model.name.startswith(READ_OPERATIONS))


def logged_error(exception: Exception, **kwargs: Any) -> None:
    model = kwargs.get("model")
    name = str(getattr(model, "name", "?"))
    service = getattr(getattr(model, "service_model", None), "service_name", "aws")
    LOG.exchange(plane=PLANE, method="POST", url=f"{service}:{name}", status=None, error=type(exception).__name__,
                 mutating=not name.startswith(READ_OPERATIONS))
