"""Contract: BYOK keys and Dedicated clusters against the sandbox's Confluent Cloud API."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cmkctl_sandbox import realism
from reconciler.core.errors import CredentialError, GrantPendingError, ProviderError, TransientError
from reconciler.core.retry import RetryPolicy, Wait
from reconciler.core.secrets import Secret
from reconciler.manifest.model import Accounts
from reconciler.providers.base import Connection, Endpoints
from reconciler.providers.confluent import ConfluentClient, next_page_token
from reconciler.providers.registry import Handlers, build_handlers
from reconciler.systems import PLUGINS
from tests.emulated import confluent_headers, http_client

from .canary import CANARY, assert_no_canary, canary
from .conftest import RESOURCE_GROUP, SUBSCRIPTION
from .test_faults import Fail

TENANT = "11111111-1111-1111-1111-111111111111"
VAULT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/kv-kafka"
KEY_URI = "https://kv-kafka.vault.azure.net/keys/kafka"
APP_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SP_OBJECT_ID = "aaaaaaaa-0000-4000-8000-000000000001"
ENVIRONMENT = "env-a1b2c3"
BYOK = {"provider": "AZURE", "keyId": KEY_URI, "keyVaultId": VAULT_ID, "tenantId": TENANT}
CLUSTER = {"environmentId": ENVIRONMENT, "displayName": "orders"}


def cluster_attributes(byok_key_id: str, region: str = "eastus") -> dict[str, Any]:
    return {"cloud": "AZURE", "region": region, "availability": "MULTI_ZONE", "kind": "Dedicated", "cku": 2,
            "byokKeyId": byok_key_id}


def azure_world(*, grants: tuple[str, ...] = ("Key Vault Crypto Service Encryption User", "Key Vault Reader"),
                location: str = "eastus") -> dict[str, Any]:
    """A vault and RSA key ready for Confluent, the service principal of its application, and `grants`."""
    return {
        "tenantId": TENANT,
        "vaults": [{"subscription": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "name": "kv-kafka",
                    "location": location, "enablePurgeProtection": True, "enableRbacAuthorization": True,
                    "keys": [{"name": "kafka", "kty": "RSA", "keySize": 3072}]}],
        "servicePrincipals": [{"appId": APP_ID, "objectId": SP_OBJECT_ID}],
        "roleAssignments": [{"scope": VAULT_ID, "role": role, "principalId": SP_OBJECT_ID} for role in grants],
    }


def seeded_key(phase: str = "VALID") -> dict[str, Any]:
    return {"id": "cck-seeded1", "keyId": KEY_URI, "keyVaultId": VAULT_ID, "tenantId": TENANT,
            "applicationId": APP_ID, "phase": phase}


@pytest.fixture
def confluent(connection: Connection) -> Iterator[Handlers]:
    # The canary is the API secret the emulator issued: no error text may ever show it.
    with build_handlers(connection, Accounts(azure_subscription_id=SUBSCRIPTION), PLUGINS) as built:
        yield built


def test_absent_key_reads_as_none(confluent: Handlers) -> None:
    assert confluent.by_kind["confluent_byok_key"].read(identity=BYOK) is None


def test_registration_returns_an_application_id_and_reads_back(confluent: Handlers, sandbox: Any) -> None:
    keys = confluent.by_kind["confluent_byok_key"]
    created = keys.create(identity=BYOK, attributes={})
    assert created["id"].startswith("cck-") and created["applicationId"]
    read = keys.read(identity=BYOK)
    assert read is not None and (read["id"], read["applicationId"]) == (created["id"], created["applicationId"])
    (stored,) = sandbox.state["confluent"]["keys"].values()
    assert stored["key"] == {"kind": "AzureKey", "key_id": KEY_URI, "key_vault_id": VAULT_ID, "tenant_id": TENANT,
                             "application_id": created["applicationId"]}


def test_a_second_create_finds_the_first_instead_of_registering_twice(confluent: Handlers, sandbox: Any) -> None:
    keys = confluent.by_kind["confluent_byok_key"]
    first = keys.create(identity=BYOK, attributes={})
    again = keys.create(identity=BYOK, attributes={})
    assert again["id"] == first["id"]
    assert len(sandbox.state["confluent"]["keys"]) == 1
    assert [c["method"] for c in sandbox.calls() if c["path"] == "/byok/v1/keys"].count("POST") == 1


def test_another_azure_key_is_another_byok_key(confluent: Handlers, sandbox: Any) -> None:
    keys = confluent.by_kind["confluent_byok_key"]
    first = keys.create(identity=BYOK, attributes={})
    second = keys.create(identity={**BYOK, "keyId": KEY_URI + "-v2"}, attributes={})
    assert first["id"] != second["id"] and first["applicationId"] != second["applicationId"]
    assert len(sandbox.state["confluent"]["keys"]) == 2
    with pytest.raises(ProviderError, match="immutable"):
        keys.update(identity=BYOK, attributes={}, live=first)


def test_a_versioned_key_id_is_refused_before_any_call(confluent: Handlers, sandbox: Any) -> None:
    keys = confluent.by_kind["confluent_byok_key"]
    keys.read(identity=BYOK)
    with pytest.raises(ProviderError, match="versioned key ID"):
        keys.create(identity={**BYOK, "keyId": KEY_URI + "/0123456789abcdef"}, attributes={})
    assert not [c for c in sandbox.calls() if c["mutating"]]


@pytest.mark.world({"confluent": {"keys": [
    {"keyId": f"https://kv{i:03d}.vault.azure.net/keys/k", "keyVaultId": VAULT_ID.replace("kv-kafka", f"kv{i:03d}"),
     "tenantId": TENANT} for i in range(150)]}})
def test_keys_are_found_across_pages(confluent: Handlers, sandbox: Any) -> None:
    wanted = {**BYOK, "keyId": "https://kv140.vault.azure.net/keys/k",
              "keyVaultId": VAULT_ID.replace("kv-kafka", "kv140")}
    assert confluent.by_kind["confluent_byok_key"].read(identity=wanted) is not None
    pages = [c for c in sandbox.calls() if c["path"] == "/byok/v1/keys"]
    assert len(pages) == 2


@pytest.mark.world({"confluent": {"keys": [seeded_key()]}})
def test_the_key_list_does_not_depend_on_the_provider_filters_spelling(confluent: Handlers, sandbox: Any) -> None:
    # The sandbox spells `provider` as the current definition does and refuses what it does not list.
    assert confluent.by_kind["confluent_byok_key"].read(identity=BYOK) is not None
    with http_client(sandbox, confluent_headers(sandbox)) as client:
        old_spelling = client.get("/byok/v1/keys", params={"provider": "AZURE"})
        current = client.get("/byok/v1/keys", params={"provider": "Azure"}).json()
    (error,) = old_spelling.json()["errors"]
    assert old_spelling.status_code == 400
    assert (error["code"], error["source"]) == ("invalid_filter", {"parameter": "provider"})
    assert [k["provider"] for k in current["data"]] == ["Azure"]


def byok_entry(byok_id: str, kind: str, **key: str) -> dict[str, Any]:
    return {"id": byok_id, "provider": kind.removesuffix("Key"), "state": "AVAILABLE", "key": {"kind": kind, **key}}


def test_only_azure_keys_are_selected_locally_across_pages() -> None:
    azure = {"key_id": KEY_URI, "key_vault_id": VAULT_ID, "tenant_id": TENANT, "application_id": APP_ID}
    pages = {
        None: {"metadata": {"next": "https://api.confluent.cloud/byok/v1/keys?page_size=100&page_token=p2"},
               "data": [byok_entry("cck-aws1", "AwsKey", key_arn="arn:aws:kms:us-east-1:123456789012:key/k"),
                        byok_entry("cck-azure1", "AzureKey", **azure)]},
        "p2": {"metadata": {"next": None},
               "data": [byok_entry("cck-gcp1", "GcpKey", key_id="projects/p/locations/l/keyRings/r/cryptoKeys/k"),
                        byok_entry("cck-azure2", "AzureKey", **{**azure, "key_id": KEY_URI + "2"})]},
    }
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("page_token")])

    http = httpx.Client(base_url="https://confluent.test", transport=httpx.MockTransport(answer))
    keys = ConfluentClient(lambda: http, Secret("key"), canary()).byok_keys()
    assert [k["id"] for k in keys] == ["cck-azure1", "cck-azure2"]
    assert [dict(r.url.params) for r in sent] == [{"page_size": "100"}, {"page_size": "100", "page_token": "p2"}]


def test_the_next_page_token_is_taken_from_the_url_never_the_host() -> None:
    body = {"metadata": {"next": "https://elsewhere.example/byok/v1/keys?page_size=100&page_token=abc"}}
    assert next_page_token(body) == "abc"
    assert next_page_token({"metadata": {}}) is None


@pytest.mark.world({"azure": azure_world(), "confluent": {"keys": [seeded_key()]}})
def test_cluster_is_created_with_the_key_and_read_back_by_name(confluent: Handlers, sandbox: Any) -> None:
    clusters = confluent.by_kind["confluent_cluster"]
    assert clusters.read(identity=CLUSTER) is None
    created = clusters.create(identity=CLUSTER, attributes=cluster_attributes("cck-seeded1"))
    assert created["byokKeyId"] == "cck-seeded1" and created["id"].startswith("lkc-")
    live = clusters.read(identity=CLUSTER)
    assert live is not None and live["byokKeyId"] == "cck-seeded1" and live["cku"] == 2
    assert sandbox.state["confluent"]["keys"]["cck-seeded1"]["state"] == "IN_USE"
    assert clusters.read(identity={**CLUSTER, "environmentId": "env-other"}) is None


@pytest.mark.world({"azure": azure_world(), "confluent": {"keys": [seeded_key()]}})
def test_cluster_capacity_is_updated_in_place(confluent: Handlers, sandbox: Any) -> None:
    clusters = confluent.by_kind["confluent_cluster"]
    live = clusters.create(identity=CLUSTER, attributes=cluster_attributes("cck-seeded1"))
    updated = clusters.update(identity=CLUSTER, attributes={"cku": 4}, live=live)
    assert updated["cku"] == 4
    with pytest.raises(ProviderError, match="byokKeyId cannot change"):
        clusters.update(identity=CLUSTER, attributes={"byokKeyId": "cck-other"}, live=live)


@pytest.mark.world({"azure": azure_world(), "confluent": {"keys": [seeded_key("INITIALIZING")],
                                                          "validationReads": 2}})
def test_cluster_creation_waits_while_the_key_is_initializing(confluent: Handlers, sandbox: Any) -> None:
    clusters = confluent.by_kind["confluent_cluster"]
    for _ in range(2):
        with pytest.raises(TransientError, match="INITIALIZING") as excinfo:
            clusters.create(identity=CLUSTER, attributes=cluster_attributes("cck-seeded1"))
        assert_no_canary(excinfo)
    assert clusters.create(identity=CLUSTER, attributes=cluster_attributes("cck-seeded1"))["byokKeyId"]
    assert not [c for c in sandbox.calls() if c["method"] == "POST" and c["status"] >= 400]


@pytest.mark.world({"azure": azure_world(grants=("Key Vault Crypto Service Encryption User",)),
                    "confluent": {"keys": [seeded_key("INITIALIZING")], "validationReads": 0}})
def test_an_invalid_key_is_waited_on_as_a_grant_with_confluents_message(confluent: Handlers, sandbox: Any) -> None:
    # byok/v1: INVALID is the last validation's result, and Confluent validates again: not final.
    clusters = confluent.by_kind["confluent_cluster"]
    with pytest.raises(GrantPendingError) as excinfo:
        clusters.create(identity=CLUSTER, attributes=cluster_attributes("cck-seeded1"))
    error = excinfo.value
    assert (error.awaited, error.code, error.plane) == ("grant", "INVALID", "confluent")
    assert error.awaiting == "the grants on vault kv-kafka to let Confluent use BYOK key cck-seeded1"
    assert str(error).startswith("Confluent reports BYOK key cck-seeded1 INVALID: Access to key denied. ")
    assert_no_canary(excinfo)
    assert sandbox.state["confluent"]["clusters"] == {}
    assert not [c for c in sandbox.calls() if c["path"] == "/cmk/v2/clusters" and c["method"] == "POST"]


@pytest.mark.lags(**realism.DEFAULTS)
@pytest.mark.world({"azure": azure_world(grants=()), "confluent": {"keys": [seeded_key("INITIALIZING")],
                                                                   "validationReads": 0}})
def test_invalid_is_waited_out_while_the_new_grants_propagate(confluent: Handlers, sandbox: Any,
                                                               connection: Connection) -> None:
    # The grants are made now: the emulator's default world lets them reach Key Vault 5 minutes later.
    with http_client(sandbox) as http:
        for role in ("e147488a-f6f5-4113-8e2d-b22465e65bf6", "21090545-7ca7-4776-b22c-e363652d74d2"):
            body = {"properties": {"principalId": SP_OBJECT_ID, "principalType": "ServicePrincipal",
                                   "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/"
                                                       f"Microsoft.Authorization/roleDefinitions/{role}"}}
            assert http.put(f"{VAULT_ID}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                            params={"api-version": "2022-04-01"}, json=body).status_code == 201
    waits: list[Wait] = []
    policy = RetryPolicy(clock=connection.clock, on_wait=waits.append)
    created = policy.call(lambda: confluent.by_kind["confluent_cluster"].create(
        identity=CLUSTER, attributes=cluster_attributes("cck-seeded1")), what="creating confluent_cluster.orders")
    assert created["byokKeyId"] == "cck-seeded1"
    phases = [c["responseBody"]["validation"]["phase"] for c in sandbox.calls()
              if c["path"] == "/byok/v1/keys/cck-seeded1"]
    assert phases[0] == "INVALID" and phases[-1] == "VALID" and set(phases) == {"INVALID", "VALID"}
    assert {w.kind for w in waits} == {"grant"}
    assert waits[0].describe().startswith("waiting for the grants on vault kv-kafka to let Confluent use BYOK key ")
    # Only once VALID is the cluster asked for, once.
    posts = [c for c in sandbox.calls() if c["path"] == "/cmk/v2/clusters" and c["method"] == "POST"]
    assert [c["status"] for c in posts] == [202] and posts[0]["seq"] > max(
        c["seq"] for c in sandbox.calls() if c["path"] == "/byok/v1/keys/cck-seeded1")
    assert 300 <= sandbox.clock_offset < 300 + policy.max_delay + 60


@pytest.mark.world({"azure": azure_world(location="westus2"), "confluent": {"keys": [seeded_key()]}})
def test_the_sandbox_refuses_a_key_in_another_region(confluent: Handlers, sandbox: Any) -> None:
    with pytest.raises(ProviderError) as excinfo:
        confluent.by_kind["confluent_cluster"].create(identity=CLUSTER, attributes=cluster_attributes("cck-seeded1"))
    assert "the key is in region westus2 but the cluster is in eastus" in str(excinfo.value)
    assert "(at /spec/byok/id)" in str(excinfo.value)
    assert_no_canary(excinfo)


@pytest.mark.world({"confluent": {"keys": [seeded_key()], "clusters": [
    {"name": "orders", "environmentId": ENVIRONMENT, "region": "eastus"},
    {"name": "orders", "environmentId": ENVIRONMENT, "region": "eastus", "id": "lkc-second"}]}})
def test_two_clusters_of_one_name_are_reported_not_guessed(confluent: Handlers) -> None:
    with pytest.raises(ProviderError, match="2 Kafka clusters are named 'orders'"):
        confluent.by_kind["confluent_cluster"].read(identity=CLUSTER)


@pytest.mark.world({"confluent": {"clusters": [{"name": "orders", "environmentId": ENVIRONMENT,
                                                "region": "eastus"}]}})
def test_an_automatic_cluster_reads_without_a_key(confluent: Handlers) -> None:
    live = confluent.by_kind["confluent_cluster"].read(identity=CLUSTER)
    assert live is not None and live["byokKeyId"] is None


def test_a_rejected_secret_names_the_variables_and_never_shows(connection: Connection) -> None:
    # Not the key the emulator issued: refused (401), and the secret sent, a canary, is never shown.
    rejected = dataclasses.replace(connection, credentials={"confluent_api_key": Secret("not-issued"),
                                                            "confluent_api_secret": canary()})
    with (build_handlers(rejected, Accounts(), PLUGINS) as built,
          pytest.raises(CredentialError, match="CONFLUENT_CLOUD_API_SECRET") as excinfo):
        built.by_kind["confluent_byok_key"].read(identity=BYOK)
    assert_no_canary(excinfo)


def test_missing_credentials_make_no_call(sandbox: Any, connection: Connection) -> None:
    without = Connection(endpoints=connection.endpoints)
    with (build_handlers(without, Accounts(), PLUGINS) as built,
          pytest.raises(CredentialError, match="CONFLUENT_CLOUD_API_KEY")):
        built.by_kind["confluent_byok_key"].read(identity=BYOK)
    assert sandbox.calls() == []


@pytest.mark.faults({"confluent": Fail(429, {"errors": [{"status": "429", "detail": "rate limited"}]}, times=1,
                                       headers={"Retry-After": "2"})})
def test_throttling_is_transient_with_its_delay(confluent: Handlers) -> None:
    with pytest.raises(TransientError) as excinfo:
        confluent.by_kind["confluent_byok_key"].read(identity=BYOK)
    assert excinfo.value.retry_after == 2.0 and "rate limited" in str(excinfo.value)
    assert_no_canary(excinfo)
    assert confluent.by_kind["confluent_byok_key"].read(identity=BYOK) is None


def test_the_sandbox_wants_basic_auth_and_answers_with_confluents_envelope(sandbox: Any) -> None:
    with http_client(sandbox) as client:
        bearer = client.get("/byok/v1/keys", headers={"Authorization": "Bearer x"})
        pair = base64.b64encode(b"key:secret").decode()
        other = client.get("/byok/v1/keys", headers={"Authorization": f"Basic {pair}"})
        bad = client.post("/byok/v1/keys", json={"key": {"kind": "AzureKey", "key_id": KEY_URI + "/v1",
                                                         "key_vault_id": VAULT_ID, "tenant_id": TENANT}},
                          headers=confluent_headers(sandbox))
    assert bearer.status_code == 401 and bearer.json()["errors"][0]["status"] == "401"
    assert other.status_code == 401  # a key and secret the emulator did not issue
    (error,) = bad.json()["errors"]
    assert bad.status_code == 400 and error["source"] == {"pointer": "/key/key_id"}
    assert {"id", "status", "code", "title", "detail"} <= set(error)
    assert CANARY not in bad.text


def test_a_plain_http_confluent_endpoint_is_refused() -> None:
    connection = Connection(endpoints=Endpoints(planes={"confluent": "http://127.0.0.1:8080"}))
    with pytest.raises(ProviderError, match=r"confluent endpoint .* is not https"):
        build_handlers(connection, Accounts(), PLUGINS)
