"""Astra handlers below the wire: error envelope, caching, pagination, request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.core.errors import CredentialError, GuardError, ProviderError, TransientError
from reconciler.core.secrets import Secret
from reconciler.providers.astra import AstraClient, ProviderAccountsHandler, RegistrationHandler

from .canary import CANARY, assert_no_canary, canary

ORG = "33333333-3333-3333-3333-333333333333"
KEY = "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus"

Route = Callable[[httpx.Request], httpx.Response]


class FakeAstra:
    """Answers from a route function and remembers every request, so tests can read the wire."""

    def __init__(self, route: Route) -> None:
        self.requests: list[httpx.Request] = []
        self._route = route

    def client(self, token: Secret | None = None) -> AstraClient:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self._route(request)

        http = httpx.Client(base_url="https://astra.test", transport=httpx.MockTransport(handle))
        return AstraClient(lambda: http, token)


def errors(status: int, *messages: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"errors": [{"ID": 2000000 + i, "message": m} for i, m in enumerate(messages)]}
    return httpx.Response(status, json=body, headers=headers)


def registration_identity(product: str = "serverless", cloud: str = "azure") -> dict[str, Any]:
    return {"organizationId": ORG, "product": product, "cloud": cloud, "region": "eastus"}


def test_envelope_messages_reach_the_error_and_the_token_does_not() -> None:
    fake = FakeAstra(lambda r: errors(400, "unsupported region", f"bad token {CANARY[:6]}"))
    with pytest.raises(ProviderError) as excinfo:
        ProviderAccountsHandler(fake.client(canary())).read(
            identity={"product": "serverless", "cloud": "azure", "region": "eastus"}
        )
    assert "unsupported region" in str(excinfo.value)
    assert excinfo.value.status == 400 and not isinstance(excinfo.value, TransientError)
    assert fake.requests[0].headers["Authorization"] == f"Bearer {CANARY}"
    assert_no_canary(excinfo)


def test_throttling_is_transient_with_retry_after() -> None:
    fake = FakeAstra(lambda r: errors(429, "slow down", headers={"Retry-After": "3"}))
    with pytest.raises(TransientError) as excinfo:
        fake.client(canary()).registrations("serverless")
    assert excinfo.value.retry_after == 3.0


def test_server_error_is_transient() -> None:
    fake = FakeAstra(lambda r: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(TransientError):
        fake.client(canary()).registrations("serverless")


def test_rejected_token_is_a_credential_error() -> None:
    fake = FakeAstra(lambda r: errors(401, "token expired"))
    with pytest.raises(CredentialError, match="ASTRA_DB_APPLICATION_TOKEN") as excinfo:
        fake.client(canary()).registrations("serverless")
    assert_no_canary(excinfo)


def test_missing_token_names_the_variable_and_sends_nothing() -> None:
    fake = FakeAstra(lambda r: httpx.Response(200, json=[]))
    with pytest.raises(CredentialError, match="ASTRA_DB_APPLICATION_TOKEN"):
        fake.client(None).registrations("serverless")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("product", "path"),
    [
        ("serverless", "/v2/kms/provider/azure/region/eastus/accounts"),
        ("managed-clusters", "/v2/kms/classic/provider/azure/region/eastus/accounts"),
    ],
)
def test_provider_accounts_keep_astras_order(product: str, path: str) -> None:
    accounts = [{"organization_id": ORG, "provider_id": pid, "provider": "azure"} for pid in ("b", "a")]
    fake = FakeAstra(lambda r: httpx.Response(200, json=accounts))
    live = ProviderAccountsHandler(fake.client(canary())).read(
        identity={"product": product, "cloud": "azure", "region": "eastus"}
    )
    assert live == {"providerIds": ["b", "a"]}
    assert fake.requests[0].url.path == path


def test_provider_accounts_are_never_written() -> None:
    handler = ProviderAccountsHandler(FakeAstra(lambda r: httpx.Response(500)).client(canary()))
    identity = {"product": "serverless", "cloud": "azure", "region": "eastus"}
    with pytest.raises(ProviderError):
        handler.create(identity=identity, attributes={})
    with pytest.raises(ProviderError):
        handler.update(identity=identity, attributes={}, live={})


def test_region_cannot_smuggle_a_path() -> None:
    handler = ProviderAccountsHandler(FakeAstra(lambda r: httpx.Response(200, json=[])).client(canary()))
    with pytest.raises(ProviderError, match="invalid region"):
        handler.read(identity={"product": "serverless", "cloud": "azure", "region": "../../v2/x"})


@pytest.mark.parametrize(
    "entry",
    [
        {"OrganizationID": ORG, "CloudProvider": "azure", "KeyID": KEY, "Region": "eastus"},
        {"organizationId": ORG, "cloudProvider": "AZURE", "keyId": KEY, "region": "EastUS"},
    ],
)
def test_registration_read_accepts_both_casings(entry: dict[str, str]) -> None:
    other = {"CloudProvider": "aws", "KeyID": "arn:aws:kms:x", "Region": "eastus"}
    fake = FakeAstra(lambda r: httpx.Response(200, json=[other, entry]))
    handler = RegistrationHandler(fake.client(canary()), organization_id=ORG)
    assert handler.read(identity=registration_identity()) == {"keyId": KEY}


def test_registration_list_is_fetched_once_per_product_until_a_create() -> None:
    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201) if request.method == "POST" else httpx.Response(200, json=[])

    fake = FakeAstra(route)
    handler = RegistrationHandler(fake.client(canary()), organization_id=ORG)
    assert handler.read(identity=registration_identity()) is None
    assert handler.read(identity=registration_identity(cloud="aws")) is None
    assert handler.read(identity=registration_identity("managed-clusters")) is None
    gets = [r.url.path for r in fake.requests]
    assert gets == ["/v2/kms", "/v2/kms/classic"]
    handler.create(identity=registration_identity(), attributes={"keyId": KEY})
    handler.read(identity=registration_identity())
    assert [r.url.path for r in fake.requests][-1] == "/v2/kms"
    assert len(fake.requests) == 4


@pytest.mark.parametrize(
    ("product", "cloud", "key", "path", "body"),
    [
        ("serverless", "azure", KEY, "/v2/kms", {"azure": {"keyIdentifier": KEY, "region": "eastus"}}),
        (
            "managed-clusters",
            "aws",
            "arn:aws:kms:k",
            "/v2/kms/classic",
            {"aws": {"keyID": "arn:aws:kms:k", "region": "eastus"}},
        ),
        (
            "serverless",
            "gcp",
            "projects/p/k",
            "/v2/kms",
            {"gcp": {"keyID": "projects/p/k", "region": "eastus"}},
        ),
    ],
)
def test_registration_body_per_cloud(product: str, cloud: str, key: str, path: str, body: dict[str, Any]) -> None:
    # 200 with no body, as the spec says; the live service answers 201. Both are success.
    fake = FakeAstra(lambda r: httpx.Response(200))
    handler = RegistrationHandler(fake.client(canary()), organization_id=ORG)
    live = handler.create(identity=registration_identity(product, cloud), attributes={"keyId": key})
    assert live == {"keyId": key}
    (request,) = fake.requests
    assert (request.method, request.url.path) == ("POST", path)
    assert json.loads(request.content) == {"orgId": ORG, **body}


def test_a_versioned_azure_key_is_never_registered() -> None:
    fake = FakeAstra(lambda r: httpx.Response(201))
    handler = RegistrationHandler(fake.client(canary()), organization_id=ORG)
    with pytest.raises(ProviderError, match="versioned"):
        handler.create(
            identity=registration_identity(), attributes={"keyId": KEY + "/0123456789abcdef0123456789abcdef"}
        )
    assert fake.requests == []


def test_registration_in_another_organization_is_refused() -> None:
    fake = FakeAstra(lambda r: httpx.Response(201))
    handler = RegistrationHandler(fake.client(canary()), organization_id="44444444-4444-4444-4444-444444444444")
    with pytest.raises(GuardError):
        handler.create(identity=registration_identity(), attributes={"keyId": KEY})
    assert fake.requests == []


def test_registration_never_updates() -> None:
    handler = RegistrationHandler(FakeAstra(lambda r: httpx.Response(200)).client(canary()), organization_id=ORG)
    with pytest.raises(ProviderError, match="support ticket"):
        handler.update(identity=registration_identity(), attributes={"keyId": KEY}, live={"keyId": "other"})


def test_databases_follow_pagination_and_filter_by_region() -> None:
    def database(i: int, region: str) -> dict[str, Any]:
        return {"id": f"db-{i:03d}", "info": {"region": region, "cloudProvider": "AZURE"}}

    pages = {
        None: [database(i, "eastus" if i % 2 else "westus") for i in range(100)],
        "db-099": [
            database(100, "eastus"),
            {"id": "db-101", "info": {"datacenters": [{"region": "eastus"}]}},
        ],
    }

    def route(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("starting_after")])

    fake = FakeAstra(route)
    found = fake.client(canary()).databases("azure", "eastus")
    assert len(found) == 52
    first = fake.requests[0].url.params
    assert (first["include"], "provider" in first) == ("nonterminated", False)
    assert len(fake.requests) == 2


@pytest.mark.parametrize("spelling", ["AZURE", "Azure", "azure"])
def test_databases_are_selected_by_cloud_here_whatever_its_spelling(spelling: str) -> None:
    def database(name: str, cloud: str, region: str = "eastus") -> dict[str, Any]:
        return {"id": name, "info": {"name": name, "cloudProvider": cloud, "region": region}}

    page = [database("orders", spelling), database("legacy", "AWS"), database("analytics", "GCP"),
            {"id": "multi", "info": {"cloudProvider": "AWS", "region": "us-east-1",
                                     "datacenters": [{"cloudProvider": spelling, "region": "EastUS"}]}},
            database("elsewhere", spelling, "westus2")]
    fake = FakeAstra(lambda r: httpx.Response(200, json=page))
    found = fake.client(canary()).databases("azure", "eastus")
    assert [db["id"] for db in found] == ["orders", "multi"]
    assert [dict(r.url.params) for r in fake.requests] == [{"include": "nonterminated", "limit": "100"}]


def test_databases_stop_when_the_server_ignores_the_cursor() -> None:
    page = [{"id": f"db-{i}", "info": {"region": "eastus"}} for i in range(100)]
    fake = FakeAstra(lambda r: httpx.Response(200, json=page))
    fake.client(canary()).databases("azure", "eastus")
    assert len(fake.requests) == 2
