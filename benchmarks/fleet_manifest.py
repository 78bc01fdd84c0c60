"""A platform team's fleet as one manifest: every region, every system, several environments.

Shapes follow `manifests/examples/*.yaml`. Per Azure region: Astra DB Serverless (one vault, key,
registration and its principals), and per environment a Confluent BYOK key with a Dedicated cluster,
a Cassandra Managed Instance cluster with a data center and a Mongo vCore cluster with its
identity. Per AWS region: an Astra Serverless and an Astra Managed Clusters KMS key, registered.
"""

from __future__ import annotations

from typing import Any

SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
TENANT = "11111111-1111-1111-1111-111111111111"
ORGANIZATION = "33333333-3333-3333-3333-333333333333"
AWS_ACCOUNT = "123456789012"

AZURE_REGIONS = (
    "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus", "southcentralus",
    "canadacentral", "canadaeast", "brazilsouth", "northeurope", "westeurope", "uksouth", "ukwest",
    "francecentral", "germanywestcentral", "swedencentral", "switzerlandnorth", "norwayeast",
    "japaneast", "japanwest", "koreacentral", "australiaeast", "southeastasia", "eastasia", "centralindia",
)
AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1",
    "ap-southeast-1", "ap-northeast-1", "ca-central-1",
)
ENVIRONMENTS = ("prod", "stage", "dev")
ENCRYPTION_USER = "Key Vault Crypto Service Encryption User"


def fleet(azure_regions: int, aws_regions: int, environments: int = len(ENVIRONMENTS)) -> dict[str, Any]:
    """The manifest as data, ready for yaml.safe_dump."""
    envs = environment_names(environments)
    regions = [_azure_region(name, index, envs) for index, name in enumerate(AZURE_REGIONS[:azure_regions])]
    regions += [_aws_region(name, index) for index, name in enumerate(AWS_REGIONS[:aws_regions])]
    return {
        "apiVersion": "cmkctl/v1",
        "kind": "KeySet",
        "metadata": {"name": "acme-fleet", "description": "Every region, system and environment of Acme."},
        "accounts": {
            "azure": {"tenantId": TENANT, "subscriptionId": SUBSCRIPTION},
            "aws": {"accountId": AWS_ACCOUNT},
            "astra": {"organizationId": ORGANIZATION},
            "confluent": {"environmentId": "env-a1b2c3"},
        },
        "regions": regions,
    }


def environment_names(count: int) -> tuple[str, ...]:
    """prod, stage, dev, then e03, e04, ...: the scale benchmark's larger fleets have more environments."""
    return ENVIRONMENTS[:count] + tuple(f"e{index:02d}" for index in range(len(ENVIRONMENTS), count))


def _azure_region(name: str, index: int, envs: tuple[str, ...]) -> dict[str, Any]:
    code = f"r{index:02d}"
    region: dict[str, Any] = {"name": name, "cloud": "azure", "identities": [], "vaults": [], "keys": [],
                              "roleAssignments": [], "accessPolicies": [], "registrations": []}
    _astra(region, code)
    for env in envs:
        _confluent(region, name, code, env)
        _cassandra(region, code, env)
        _mongo(region, code, env)
    return {k: v for k, v in region.items() if v}


def _vault_and_key(region: dict[str, Any], vault: str, group: str, **settings: Any) -> None:
    region["vaults"].append({"name": vault, "resourceGroup": group, **settings})
    region["keys"].append({"name": vault, "vault": vault, "type": "RSA", "size": 3072})


def _astra(region: dict[str, Any], code: str) -> None:
    vault = f"astra-{code}"
    _vault_and_key(region, vault, "cmk-astra")
    region["roleAssignments"].append({"role": ENCRYPTION_USER, "vault": vault, "principal": {"astra": "serverless"}})
    region["registrations"].append({"astra": {"product": "serverless", "key": vault}})


def _confluent(region: dict[str, Any], name: str, code: str, env: str) -> None:
    vault = f"kafka-{env}-{code}"
    _vault_and_key(region, vault, f"cmk-{env}", publicNetwork="Deny")
    for role in (ENCRYPTION_USER, "Key Vault Reader"):
        region["roleAssignments"].append({"role": role, "vault": vault, "principal": {"confluent": vault}})
    cluster = {"name": f"orders-{env}-{code}", "availability": "MULTI_ZONE", "cku": 2}
    region["registrations"].append({"confluent": {"key": vault, "cluster": cluster}})


def _cassandra(region: dict[str, Any], code: str, env: str) -> None:
    vault, cluster, group = f"cass-{env}-{code}", f"cass-{env}-{code}", f"cassandra-{env}"
    _vault_and_key(region, vault, f"cmk-{env}", authorization="accessPolicies")
    region["accessPolicies"].append({"vault": vault, "principal": {"cassandraCluster": cluster},
                                     "keys": ["get", "wrapKey", "unwrapKey"]})
    # One VNet per environment and region, each named apart (see the note on VNet names in README).
    network = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Network/"
               f"virtualNetworks/vnet-{env}-{code}")
    region["registrations"].append({"cassandra": {
        "cluster": cluster, "resourceGroup": group, "delegatedManagementSubnetId": f"{network}/subnets/management",
        "cassandraVersion": "4.0", "initialAdminPasswordFrom": {"env": "CASSANDRA_ADMIN_PASSWORD"}, "key": vault,
        "dataCenters": [{"name": f"dc-{code}", "nodeCount": 3, "delegatedSubnetId": f"{network}/subnets/dc"}],
    }})


def _mongo(region: dict[str, Any], code: str, env: str) -> None:
    vault, identity = f"mongo-{env}-{code}", f"mongo-{env}-{code}-cmk"
    region["identities"].append({"name": identity, "resourceGroup": f"cmk-{env}"})
    _vault_and_key(region, vault, f"cmk-{env}")
    region["roleAssignments"].append({"role": ENCRYPTION_USER, "vault": vault, "principal": {"identity": identity}})
    region["registrations"].append({"mongo": {
        "cluster": f"orders-{env}-{code}", "resourceGroup": f"data-{env}", "identity": identity, "key": vault,
        "create": {"administrator": {"userName": "mongoAdmin", "passwordFrom": {"env": "MONGO_ADMIN_PASSWORD"}},
                   "compute": {"tier": "M30"}, "storage": {"sizeGb": 32}},
    }})


def _aws_region(name: str, index: int) -> dict[str, Any]:
    keys, registrations = [], []
    for product in ("serverless", "managed-clusters"):
        alias = f"alias/astra-{product}-{name}"
        keys.append({"alias": alias, "description": f"Astra {product} databases in {name}", "rotation": True,
                     "policy": {"allow": [{"astra": product}]}})
        registrations.append({"astra": {"product": product, "key": alias}})
    return {"name": name, "cloud": "aws", "keys": keys, "registrations": registrations}
