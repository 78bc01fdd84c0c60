"""azure-core exceptions become reconciler errors at the seam, and never carry a token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.errors import CredentialError, KeyAccessPendingError, ProviderError, TransientError
from reconciler.providers.azure_common import translate

from .canary import CANARY


class FakeResponse:
    """Just enough of an azure-core HTTP response for HttpResponseError to parse."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "Reason"
        self.headers = headers or {}
        self.request = None
        self.content_type = "application/json"
        self._body = json.dumps(body).encode()

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode()

    def body(self) -> bytes:
        return self._body


def http_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Exception:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.core.exceptions import ARMErrorFormat

    body = {"error": {"code": code, "message": message}}
    return HttpResponseError(response=FakeResponse(status, body, headers), error_format=ARMErrorFormat)


def test_throttling_is_transient_and_keeps_retry_after() -> None:
    error = translate(http_error(429, "TooManyRequests", "slow down", {"Retry-After": "4"}), "read vault v")
    assert isinstance(error, TransientError)
    assert (error.code, error.status, error.retry_after) == ("TooManyRequests", 429, 4.0)
    assert str(error) == "read vault v: HTTP 429 TooManyRequests: slow down"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(status: int) -> None:
    assert isinstance(translate(http_error(status, "InternalError", "oops"), "x"), TransientError)


def test_a_refusal_is_permanent_with_code_and_message() -> None:
    error = translate(http_error(400, "BadRequest", "enablePurgeProtection cannot be false"), "create vault v")
    assert type(error) is ProviderError
    assert (error.code, error.status) == ("BadRequest", 400)
    assert "enablePurgeProtection cannot be false" in str(error)


def test_rejected_credential() -> None:
    assert isinstance(translate(http_error(401, "InvalidAuthenticationToken", "expired"), "x"), CredentialError)


def test_unreachable_is_transient() -> None:
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    for failure in (ServiceRequestError("refused"), ServiceResponseError("reset")):
        error = translate(failure, "read vault v")
        assert isinstance(error, TransientError) and error.code == "connection"


def test_credential_without_a_response_is_a_credential_error() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    error = translate(ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"), "x")
    assert isinstance(error, CredentialError)
    assert CANARY not in str(error)


def operation_failed(body: Any) -> Exception:
    """What azure-core's poller raises when the operation ends Failed: the last poll's 200, from OperationFailed."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.polling.base_polling import OperationFailed

    try:
        try:
            raise OperationFailed("Operation failed or canceled")
        except OperationFailed as failed:
            raise HttpResponseError(response=FakeResponse(200, body), error=failed) from failed
    except HttpResponseError as error:
        return error


def test_a_failed_operation_carries_the_services_code_and_message_and_is_permanent() -> None:
    body = {"status": "Failed", "error": {"code": "ClusterUpdateFailed", "message": "node 2 refused\nsecond line"}}
    error = translate(operation_failed(body), "update Mongo cluster m1")
    assert type(error) is ProviderError and error.code == "ClusterUpdateFailed" and error.status is None
    assert str(error) == "update Mongo cluster m1: the operation failed: ClusterUpdateFailed: node 2 refused"


def test_an_operation_failed_for_want_of_the_key_waits_on_the_grant_budget() -> None:
    body = {"status": "Failed", "error": {"code": "KeyVaultAccessForbidden", "message": "vault kv1 refused"}}
    error = translate(operation_failed(body), "update Cassandra data center c1/dc1")
    assert isinstance(error, KeyAccessPendingError) and error.awaited == "grant"
    assert str(error) == "update Cassandra data center c1/dc1: the operation failed: KeyVaultAccessForbidden: " \
                         "vault kv1 refused"


@pytest.mark.parametrize(("body", "said"), [
    ({"id": "/v/kv1", "properties": {"provisioningState": "Failed"}}, "ended with provisioningState Failed"),
    ({"status": "Canceled"}, "ended Canceled"),
    ({"properties": {"provisioningState": "Failed\x1b[31m and more"}}, "ended with provisioningState Failed\x1b[31m"),
])
def test_an_operation_that_ended_without_a_reason_says_how_it_ended(body: Any, said: str) -> None:
    error = translate(operation_failed(body), "create vault kv1")
    assert type(error) is ProviderError and said in str(error) and "HTTP 200" not in str(error)
    assert str(error).endswith("and Azure gave no reason (the resource's activity log may say more)")
