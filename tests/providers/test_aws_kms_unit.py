"""The AWS KMS provider below the SDK: endpoints, error translation, the caller's principal."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from reconciler.core.errors import CredentialError, ProviderError, TransientError
from reconciler.providers.aws_kms import checked_endpoint, iam_principal, translate


def test_endpoints_must_be_https_even_on_loopback() -> None:
    assert checked_endpoint(None) is None
    assert checked_endpoint("https://kms.example.com/") == "https://kms.example.com"
    with pytest.raises(ProviderError, match="not https"):
        checked_endpoint("http://127.0.0.1:5000")
    with pytest.raises(ProviderError, match="not https"):
        checked_endpoint("http://10.0.0.1:5000")


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "CreateKey")


def test_errors_are_translated_by_code() -> None:
    assert isinstance(translate(client_error("ThrottlingException", 400), "x"), TransientError)
    assert isinstance(translate(client_error("KMSInternalException", 500), "x"), TransientError)
    assert isinstance(translate(client_error("UnrecognizedClientException", 400), "x"), CredentialError)
    refused = translate(client_error("MalformedPolicyDocumentException", 400), "putting the policy")
    assert isinstance(refused, ProviderError) and not isinstance(refused, TransientError)
    assert str(refused) == "putting the policy: MalformedPolicyDocumentException: no"
    assert isinstance(translate(NoCredentialsError(), "x"), CredentialError)
    assert isinstance(translate(EndpointConnectionError(endpoint_url="https://kms"), "x"), TransientError)


def test_an_assumed_role_session_is_named_by_its_role() -> None:
    assert iam_principal("arn:aws:sts::123456789012:assumed-role/Deployer/ci-42") == \
        "arn:aws:iam::123456789012:role/Deployer"
    assert iam_principal("arn:aws:iam::123456789012:user/alice") == "arn:aws:iam::123456789012:user/alice"


def test_a_plain_http_endpoint_from_botocores_variables_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.providers.aws_kms import AwsSession
    from reconciler.providers.base import Connection, Endpoints

    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://kms.example.com")
    # Refused as botocore resolves it, when the client is made: before any request.
    with pytest.raises(ProviderError, match="not https"):
        AwsSession(Connection(endpoints=Endpoints()), account_id=None).warm_up(["us-east-1"])
