"""Contract: provider accounts, registrations and databases against the sandbox's Astra API."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.errors import CredentialError, ProviderError
from reconciler.manifest.model import Accounts
from reconciler.providers.astra import AstraClient
from reconciler.providers.base import Connection
from reconciler.providers.registry import Handlers, build_handlers
from reconciler.systems import PLUGINS

from .canary import assert_no_canary

KEY_ID = "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus"


def accounts(product: str, cloud: str, region: str) -> dict[str, str]:
    return {"product": product, "cloud": cloud, "region": region}


def registration(org: str, product: str = "serverless", region: str = "eastus") -> dict[str, str]:
    return {"organizationId": org, "product": product, "cloud": "azure", "region": region}


@pytest.mark.parametrize(
    ("product", "cloud", "region", "count"),
    [
        ("serverless", "azure", "eastus", 2),
        ("managed-clusters", "azure", "eastus", 2),
        ("serverless", "azure", "westus2", 1),
        ("serverless", "aws", "us-east-2", 1),
        ("managed-clusters", "gcp", "us-central1", 1),
    ],
)
def test_provider_accounts(handlers: Handlers, product: str, cloud: str, region: str, count: int) -> None:
    live = handlers.by_kind["astra_provider_accounts"].read(identity=accounts(product, cloud, region))
    assert live is not None and len(live["providerIds"]) == count
    assert len(set(live["providerIds"])) == count


def test_absent_registration_reads_as_none(handlers: Handlers, sandbox: Any) -> None:
    org = sandbox.state["astra"]["orgId"]
    assert handlers.by_kind["astra_registration"].read(identity=registration(org)) is None


def test_registration_sends_the_versionless_key_and_region(handlers: Handlers, sandbox: Any) -> None:
    org = sandbox.state["astra"]["orgId"]
    registrations = handlers.by_kind["astra_registration"]
    assert registrations.read(identity=registration(org)) is None  # primes the per-run cache
    created = registrations.create(identity=registration(org), attributes={"keyId": KEY_ID})
    assert created == {"keyId": KEY_ID}
    assert registrations.read(identity=registration(org)) == {"keyId": KEY_ID}
    (stored,) = sandbox.state["astra"]["keys"]["serverless"]
    assert (stored["provider"], stored["region"], stored["keyID"]) == ("azure", "eastus", KEY_ID)
    assert sandbox.state["astra"]["keys"]["managed-clusters"] == []


def test_managed_clusters_registration_goes_to_classic(handlers: Handlers, sandbox: Any) -> None:
    org = sandbox.state["astra"]["orgId"]
    wanted = registration(org, product="managed-clusters")
    handlers.by_kind["astra_registration"].create(identity=wanted, attributes={"keyId": KEY_ID})
    assert handlers.by_kind["astra_registration"].read(identity=wanted) == {"keyId": KEY_ID}
    assert sandbox.state["astra"]["keys"]["serverless"] == []


def test_a_second_key_for_the_region_is_refused(handlers: Handlers, sandbox: Any) -> None:
    org = sandbox.state["astra"]["orgId"]
    registrations = handlers.by_kind["astra_registration"]
    registrations.create(identity=registration(org), attributes={"keyId": KEY_ID})
    with pytest.raises(ProviderError) as excinfo:
        registrations.create(identity=registration(org), attributes={"keyId": KEY_ID + "2"})
    assert "only one key per provider and region" in str(excinfo.value)
    assert_no_canary(excinfo)


@pytest.mark.world(
    {
        "astra": {
            "databases": [
                {"name": f"db{i:03d}", "cloudProvider": "AZURE", "region": "eastus" if i % 3 else "westus2"}
                for i in range(150)
            ]
            + [
                {"name": "gone", "cloudProvider": "AZURE", "region": "eastus", "status": "TERMINATED"},
                {"name": "aws", "cloudProvider": "AWS", "region": "eastus"},
            ]
        }
    }
)
def test_databases_in_a_region_across_pages(handlers: Handlers, sandbox: Any) -> None:
    assert handlers.clients.planes["astra"] is not None
    found = handlers.clients.planes["astra"].databases("azure", "eastus")
    assert sorted(db["info"]["name"] for db in found) == [f"db{i:03d}" for i in range(150) if i % 3]
    assert [c["path"] for c in sandbox.calls()].count("/v2/databases") == 2


def test_missing_token_names_the_variable(sandbox: Any, connection: Connection) -> None:
    connection = Connection(endpoints=connection.endpoints)
    with build_handlers(connection, Accounts(blocks={"astra": {"organizationId": "o"}}), PLUGINS) as built:
        with pytest.raises(CredentialError, match="ASTRA_DB_APPLICATION_TOKEN"):
            built.by_kind["astra_provider_accounts"].read(identity=accounts("serverless", "azure", "eastus"))
        assert isinstance(built.clients.planes["astra"], AstraClient)
    assert sandbox.calls() == []
