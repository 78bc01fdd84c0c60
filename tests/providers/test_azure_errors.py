"""azure-core exceptions become reconciler errors at the seam, and never carry a token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.errors import CredentialError, ProviderError, TransientError
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
