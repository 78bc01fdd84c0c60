"""Contract: throttling and server errors injected by the sandbox surface as TransientError."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reconciler.core.errors import TransientError
from reconciler.providers.registry import Handlers

from .canary import assert_no_canary
from .conftest import RESOURCE_GROUP, SUBSCRIPTION


class Fail:
    """Answers the first `times` requests of a plane with `status`, then lets them through."""

    def __init__(self, status: int, body: Any, *, times: int, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
        self.left = times

    def before(self, plane: str, request: Any) -> Any:
        from cmkctl_sandbox.wire import Reply

        if self.left <= 0:
            return None
        self.left -= 1
        return Reply(self.status, self.body, dict(self.headers))


ARM_THROTTLED = {"error": {"code": "TooManyRequests", "message": "Rate limit exceeded."}}
ASTRA_THROTTLED = {"errors": [{"ID": 429, "message": "too many requests"}]}
GRAPH_UNAVAILABLE = {"error": {"code": "serviceNotAvailable", "message": "Service unavailable."}}
VAULT = {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "acme-astra-eastus"}
ACCOUNTS = {"product": "serverless", "cloud": "azure", "region": "eastus"}


@pytest.mark.faults({"arm": Fail(429, ARM_THROTTLED, times=1, headers={"Retry-After": "0.01"})})
def test_arm_throttling_once_is_absorbed(handlers: Handlers) -> None:
    assert handlers.by_kind["azure_vault"].read(identity=VAULT) is None


# azure-core treats Retry-After: 0 as absent and backs off for seconds; a hundredth keeps it quick.
@pytest.mark.faults({"arm": Fail(429, ARM_THROTTLED, times=100, headers={"Retry-After": "0.01"})})
def test_arm_throttling_that_persists_is_transient(handlers: Handlers, sandbox: Any) -> None:
    with pytest.raises(TransientError) as excinfo:
        handlers.by_kind["azure_vault"].read(identity=VAULT)
    assert (excinfo.value.status, excinfo.value.code, excinfo.value.retry_after) == (429, "TooManyRequests", 0.01)
    assert len(sandbox.calls()) == 4  # the SDK's own few retries, then the engine decides
    assert_no_canary(excinfo)


@pytest.mark.faults({"graph": Fail(503, GRAPH_UNAVAILABLE, times=1, headers={"Retry-After": "2"})})
def test_graph_unavailable_is_transient(handlers: Handlers) -> None:
    principals = handlers.by_kind["azuread_service_principal"]
    app_id = str(uuid.uuid4())
    with pytest.raises(TransientError) as excinfo:
        principals.read(identity={"appId": app_id})
    assert excinfo.value.retry_after == 2.0
    assert_no_canary(excinfo)
    assert principals.read(identity={"appId": app_id}) is None


@pytest.mark.faults({"astra": Fail(429, ASTRA_THROTTLED, times=1, headers={"Retry-After": "5"})})
def test_astra_throttling_is_transient_with_retry_after(handlers: Handlers) -> None:
    accounts = handlers.by_kind["astra_provider_accounts"]
    with pytest.raises(TransientError, match="too many requests") as excinfo:
        accounts.read(identity=ACCOUNTS)
    assert excinfo.value.retry_after == 5.0
    assert_no_canary(excinfo)
    live = accounts.read(identity=ACCOUNTS)
    assert live is not None and len(live["providerIds"]) == 2
