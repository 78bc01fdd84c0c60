"""The sandbox's Confluent plane: its state section, world.yaml seeding, and the rules it enforces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmkctl_sandbox import Sandbox, WorldError, load_state, realism
from cmkctl_sandbox.world import state_from_world
from tests.emulated import http_client

VAULT_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"
KEY = {"keyId": "https://kv1.vault.azure.net/keys/cmk", "keyVaultId": VAULT_ID,
       "tenantId": "11111111-1111-1111-1111-111111111111"}


def client(sandbox: Sandbox) -> httpx.Client:
    return http_client(sandbox)


def test_a_fresh_state_has_an_empty_confluent_section(tmp_path: Path) -> None:
    assert load_state(tmp_path)["confluent"] == {"validationReads": 1, "keys": {}, "clusters": {}}


def test_an_old_state_file_gains_the_section(tmp_path: Path) -> None:
    state = load_state(tmp_path)
    del state["confluent"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert load_state(tmp_path)["confluent"]["keys"] == {}


def test_world_yaml_seeds_keys_and_clusters() -> None:
    state = state_from_world({"confluent": {"validationReads": 3, "keys": [{**KEY, "id": "cck-one"}], "clusters": [
        {"name": "orders", "environmentId": "env-1", "region": "eastus", "byokKeyId": "cck-one", "id": "lkc-one"},
        {"name": "auto", "environmentId": "env-1", "region": "eastus"}]}})
    confluent = state["confluent"]
    assert confluent["validationReads"] == 3
    assert confluent["keys"]["cck-one"]["state"] == "IN_USE"
    assert confluent["keys"]["cck-one"]["validation"]["phase"] == "VALID"
    assert confluent["keys"]["cck-one"]["key"]["application_id"]
    byok = confluent["clusters"]["lkc-one"]["spec"]["byok"]
    # cmk/v2 answers a reference whole: id, related and resource_name (all required in its definition).
    assert byok == {"id": "cck-one", "related": "https://api.confluent.cloud/byok/v1/keys/cck-one",
                    "resource_name": "crn://confluent.cloud/byok=cck-one"}
    (auto,) = [c for c in confluent["clusters"].values() if c["spec"]["display_name"] == "auto"]
    assert "byok" not in auto["spec"]


def test_world_yaml_errors_name_every_problem() -> None:
    with pytest.raises(WorldError) as raised:
        state_from_world({"confluent": {"keyz": [], "keys": [{"keyId": "x"}], "validationReads": -1,
                                        "clusters": [{"name": "c", "environmentId": "env-1", "region": "eastus",
                                                      "byokKeyId": "cck-missing"}]}})
    text = str(raised.value)
    assert "confluent.keyz: unknown key" in text
    assert "confluent.keys[0].keyVaultId: required" in text and "confluent.keys[0].tenantId: required" in text


def test_world_yaml_refuses_a_dangling_key_of_a_cluster() -> None:
    with pytest.raises(WorldError, match=r"confluent.clusters\[0\].byokKeyId: must be the id of an entry"):
        state_from_world({"confluent": {"clusters": [{"name": "c", "environmentId": "env-1", "region": "eastus",
                                                      "byokKeyId": "cck-missing"}]}})


@pytest.mark.nonconforming("asks for a page over the definition's maximum, to see it refused")
def test_keys_page_with_an_opaque_token_and_refuse_oversized_pages(tmp_path: Path) -> None:
    world = {"confluent": {"keys": [{**KEY, "keyId": f"https://kv1.vault.azure.net/keys/k{i}"} for i in range(25)]}}
    (tmp_path / "world.yaml").write_text(json.dumps(world))
    with Sandbox(tmp_path) as sandbox, client(sandbox) as http:
        first = http.get("/byok/v1/keys").json()
        assert len(first["data"]) == 10 and first["metadata"]["total_size"] == 25
        token = httpx.URL(first["metadata"]["next"]).params["page_token"]
        second = http.get("/byok/v1/keys", params={"page_token": token}).json()
        assert {k["id"] for k in second["data"]}.isdisjoint(k["id"] for k in first["data"])
        too_big = http.get("/byok/v1/keys", params={"page_size": 101})
        assert too_big.status_code == 400 and too_big.json()["errors"][0]["source"] == {"parameter": "page_size"}


def _cluster(**spec: Any) -> dict[str, Any]:
    base = {"display_name": "orders", "cloud": "AZURE", "region": "eastus", "availability": "MULTI_ZONE",
            "config": {"kind": "Dedicated", "cku": 2}, "environment": {"id": "env-1"}}
    return {"spec": {**base, **spec}}


@pytest.mark.nonconforming("lists clusters without the required environment, to see it refused")
def test_clusters_need_an_environment_and_keep_their_encryption(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as sandbox, client(sandbox) as http:
        assert http.get("/cmk/v2/clusters").status_code == 400
        basic = http.post("/cmk/v2/clusters", json=_cluster(config={"kind": "Basic"}, byok={"id": "cck-x"}))
        assert basic.status_code == 400 and "need a Dedicated cluster" in basic.text
        one_cku = http.post("/cmk/v2/clusters", json=_cluster(config={"kind": "Dedicated", "cku": 1}))
        assert one_cku.status_code == 400 and "at least 2 CKUs" in one_cku.text
        created = http.post("/cmk/v2/clusters", json=_cluster())
        assert created.status_code == 202 and created.json()["status"]["phase"] == "PROVISIONING"
        cluster_id = created.json()["id"]
        switched = http.patch(f"/cmk/v2/clusters/{cluster_id}",
                              json={"spec": {"byok": {"id": "cck-x"}, "environment": {"id": "env-1"}}})
        assert switched.status_code == 400 and "fixed at creation" in switched.text
        phases = [http.get(f"/cmk/v2/clusters/{cluster_id}", params={"environment": "env-1"}).json()["status"]["phase"]
                  for _ in range(2)]
        assert phases == ["PROVISIONING", "PROVISIONED"]
        assert http.get(f"/cmk/v2/clusters/{cluster_id}", params={"environment": "env-2"}).status_code == 404


def test_a_key_in_use_cannot_be_deleted(tmp_path: Path) -> None:
    world = {"confluent": {"keys": [{**KEY, "id": "cck-used"}, {**KEY, "id": "cck-free"}],
                           "clusters": [{"name": "c", "environmentId": "env-1", "region": "eastus",
                                         "byokKeyId": "cck-used"}]}}
    (tmp_path / "world.yaml").write_text(json.dumps(world))
    with Sandbox(tmp_path) as sandbox, client(sandbox) as http:
        assert http.delete("/byok/v1/keys/cck-used").status_code == 400
        assert http.delete("/byok/v1/keys/cck-free").status_code == 204
    assert list(load_state(tmp_path)["confluent"]["keys"]) == ["cck-used"]


# ---- AWS KMS keys (byok/v1 AwsKey) ----------------------------------------------------------

ACCOUNT = "123456789012"
# The statement Confluent's Terraform example (dedicated-public-aws-byok-kafka-acls) writes for the roles.
CONFLUENT_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
                     "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]


def _policy(roles: list[str], actions: list[str]) -> str:
    root = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}
    use = {"Sid": "Allow KMS Use", "Effect": "Allow", "Action": actions, "Resource": "*", "Principal": {"AWS": roles}}
    return json.dumps({"Version": "2012-10-17", "Statement": [root, use]})


def _aws_validation(http: httpx.Client, key_id: str) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/byok/v1/keys/{key_id}").json()["validation"]
    return found


def test_an_aws_key_answers_roles_and_is_valid_once_its_policy_lets_them_in(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    with Sandbox(tmp_path, aws_account_id=ACCOUNT) as sandbox, client(sandbox) as http:
        kms = boto3.client("kms", region_name="us-west-2", endpoint_url=sandbox.endpoints.aws,
                           verify=sandbox.endpoints.ca_bundle, aws_access_key_id=sandbox.issued.aws_access_key_id,
                           aws_secret_access_key=sandbox.issued.aws_secret_access_key)
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        registered = http.post("/byok/v1/keys", json={"key": {"kind": "AwsKey", "key_arn": arn}})
        assert registered.status_code == 201
        key = registered.json()
        assert key["provider"] == "AWS" and key["key"]["key_arn"] == arn
        roles = key["key"]["roles"]
        assert len(roles) == 2 and all(r.startswith("arn:aws:iam::") and ":role/" in r for r in roles)
        assert _aws_validation(http, key["id"])["phase"] == "INITIALIZING"
        sandbox.advance_clock(sandbox.clock_offset + realism.DEFAULTS[realism.CONFLUENT_VALIDATION] + 1)
        # Every action but one: Confluent cannot use the key.
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(roles, CONFLUENT_ACTIONS[:-1]))
        denied = _aws_validation(http, key["id"])
        assert (denied["phase"], denied["message"]) == ("INVALID", "Access to key denied.")
        # Granted to one role only: still denied.
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(roles[:1], CONFLUENT_ACTIONS))
        assert _aws_validation(http, key["id"])["phase"] == "INVALID"
        refused = http.post("/cmk/v2/clusters", json=_cluster(cloud="AWS", region="us-west-2", byok={"id": key["id"]}))
        assert refused.status_code == 400 and refused.json()["errors"][0]["source"] == {"pointer": "/spec/byok/id"}
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(roles, CONFLUENT_ACTIONS))
        valid = _aws_validation(http, key["id"])
        assert (valid["phase"], valid["region"]) == ("VALID", "us-west-2")
        elsewhere = http.post("/cmk/v2/clusters", json=_cluster(cloud="AWS", region="us-east-2",
                                                                byok={"id": key["id"]}))
        assert elsewhere.status_code == 400 and "same region" in elsewhere.text
        created = http.post("/cmk/v2/clusters", json=_cluster(cloud="AWS", region="us-west-2", byok={"id": key["id"]}))
        assert created.status_code == 202 and created.json()["spec"]["byok"]["id"] == key["id"]
        assert http.get(f"/byok/v1/keys/{key['id']}").json()["state"] == "IN_USE"


def test_an_aws_key_must_be_a_symmetric_kms_key_named_by_its_arn(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    with Sandbox(tmp_path, aws_account_id=ACCOUNT) as sandbox, client(sandbox) as http:
        bad = http.post("/byok/v1/keys", json={"key": {"kind": "AwsKey", "key_arn": "alias/mine"}})
        assert bad.status_code == 400 and bad.json()["errors"][0]["source"] == {"pointer": "/key/key_arn"}
        kms = boto3.client("kms", region_name="us-west-2", endpoint_url=sandbox.endpoints.aws,
                           verify=sandbox.endpoints.ca_bundle, aws_access_key_id=sandbox.issued.aws_access_key_id,
                           aws_secret_access_key=sandbox.issued.aws_secret_access_key)
        arn = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
        key = http.post("/byok/v1/keys", json={"key": {"kind": "AwsKey", "key_arn": arn}}).json()
        sandbox.advance_clock(sandbox.clock_offset + realism.DEFAULTS[realism.CONFLUENT_VALIDATION] + 1)
        http.get(f"/byok/v1/keys/{key['id']}")
        assert "a symmetric key (SYMMETRIC_DEFAULT) is required" in _aws_validation(http, key["id"])["message"]
