"""Cassandra registrations and vault access policies: what `validate` refuses, with file, line and rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import EXAMPLES, Result, write

GOOD = (EXAMPLES / "cassandra-managed-instance.yaml").read_text("utf-8")
POLICY = "        keys: [get, wrapKey, unwrapKey]\n"


def invalid(cmkctl: Callable[..., Result], tmp_path: Path, text: str) -> Result:
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 3, result
    assert "Traceback" not in result.err + result.out
    return result


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


def test_the_example_is_valid(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = cmkctl("validate", EXAMPLES / "cassandra-managed-instance.yaml")
    assert result.code == 0, result.err


def test_no_purge_protection_is_refused_with_the_procedures_reason(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    text = GOOD.replace("purgeProtection: true ", "purgeProtection: false")
    result = invalid(cmkctl, tmp_path, text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "purgeProtection: false" in t)
    assert f"m.yaml:{line}: regions[0].vaults[0].purgeProtection: vault 'acme-cassandra-eastus'" in result.err
    assert "Datacenter deployments will fail without it (purgeProtection: true) [R-CASSANDRA-PURGE]" in result.err


def test_an_inline_password_is_refused_without_echoing_it(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("          initialAdminPasswordFrom: {env: CASSANDRA_ADMIN_PASSWORD}\n",
                        "          initialAdminPassword: Hunter2-inline\n")
    result = invalid(cmkctl, tmp_path, text)
    assert "regions[0].registrations[0].cassandra.initialAdminPassword: a password is never written" in result.err
    assert "[E-INLINE-SECRET]" in result.err
    assert "Hunter2-inline" not in result.err + result.out


def test_a_password_in_place_of_the_variable_is_not_echoed(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("{env: CASSANDRA_ADMIN_PASSWORD}", "Hunter2-inline")
    result = invalid(cmkctl, tmp_path, text)
    assert "initialAdminPasswordFrom: expected initialAdminPasswordFrom: {env: NAME}" in result.err
    assert "Hunter2-inline" not in result.err + result.out


def test_an_access_policy_on_an_rbac_vault_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("authorization: accessPolicies", "authorization: rbac")
    result = invalid(cmkctl, tmp_path, text)
    assert f"m.yaml:{line_of(text, '      - vault: acme-cassandra-eastus')}: regions[0].accessPolicies[0].vault:" \
        in result.err
    assert "would have no effect" in result.err and "[R-ACCESS-POLICY-RBAC]" in result.err


def test_a_role_assignment_on_an_access_policy_vault_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace(POLICY, POLICY + "    roleAssignments:\n      - role: Key Vault Crypto Service Encryption User\n"
                        "        vault: acme-cassandra-eastus\n        principal: {cassandraCluster: acme-cassandra}\n")
    result = invalid(cmkctl, tmp_path, text)
    assert "regions[0].roleAssignments[0].vault: vault 'acme-cassandra-eastus' uses access policies" in result.err
    assert "[R-ROLE-ACCESS-POLICY-VAULT]" in result.err


def test_a_cluster_without_access_to_its_key_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = invalid(cmkctl, tmp_path, GOOD.replace("keys: [get, wrapKey, unwrapKey]", "keys: [get, wrapKey]"))
    assert "Cassandra cluster 'acme-cassandra' cannot use key 'cassandra-eastus': add an access policy on vault " \
        "'acme-cassandra-eastus' with keys [get, wrapKey, unwrapKey]" in result.err
    assert "[R-CASSANDRA-GRANT]" in result.err


def test_a_principal_naming_an_undeclared_cluster_is_dangling(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = invalid(cmkctl, tmp_path, GOOD.replace("{cassandraCluster: acme-cassandra}", "{cassandraCluster: other}"))
    assert "regions[0].accessPolicies[0].principal: no Cassandra cluster 'other' is registered" in result.err


def test_a_data_center_in_another_region_than_its_keys_is_refused(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    text = GOOD.replace("              keyVersion: latest", "              keyVersion: latest\n              location: westus2")
    result = invalid(cmkctl, tmp_path, text)
    assert "dataCenters[0].location: data center 'dc1' is in 'westus2'" in result.err
    assert "[R-SAME-REGION]" in result.err


def test_an_ec_key_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        type: RSA\n        size: 3072", "        type: EC\n        curve: P-256")
    assert "[R-CASSANDRA-KEY-TYPE]" in invalid(cmkctl, tmp_path, text).err


def test_a_pinned_version_must_look_like_one(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = invalid(cmkctl, tmp_path, GOOD.replace("keyVersion: latest", "keyVersion: v2"))
    assert "dataCenters[0].keyVersion: 'v2' does not match" in result.err


def test_a_subnet_id_must_name_a_vnet(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("/virtualNetworks/cassandra-vnet/subnets/dc1", "/networkSecurityGroups/nsg")
    assert "dataCenters[0].delegatedSubnetId" in invalid(cmkctl, tmp_path, text).err


def test_a_backup_key_in_another_region_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("          key: cassandra-eastus ", "          backupKey: elsewhere\n          key: cassandra-eastus ")
    result = invalid(cmkctl, tmp_path, text)
    assert "cassandra.backupKey: no key 'elsewhere' is declared in region 'eastus'" in result.err


def test_a_vault_closed_to_trusted_services_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    """Cosmos DB's customer-key guide (Cassandra included): the vault must be reachable publicly or let
    trusted Microsoft services through its firewall. Closed both ways, the data centers cannot use the key."""
    closed = "authorization: accessPolicies\n        publicNetwork: Deny\n        trustedServicesBypass: false\n"
    text = GOOD.replace("authorization: accessPolicies    # the procedure's way; RBAC works too (a role assignment "
                        "instead)\n", closed, 1)
    assert "trustedServicesBypass: false" in text
    result = invalid(cmkctl, tmp_path, text)
    line = line_of(text, "        trustedServicesBypass: false")
    assert (f"m.yaml:{line}: regions[0].vaults[0].trustedServicesBypass: vault 'acme-cassandra-eastus' denies public "
            "networks and does not let trusted Microsoft services bypass its firewall: Cassandra cluster "
            "'acme-cassandra' could not reach key 'cassandra-eastus'") in result.err
    assert "[R-CASSANDRA-BYPASS]" in result.err
    for still_reachable in (closed.replace("Deny", "Allow"), closed.replace("false", "true")):
        text = GOOD.replace("authorization: accessPolicies    # the procedure's way; RBAC works too (a role "
                            "assignment instead)\n", still_reachable, 1)
        assert cmkctl("validate", write(tmp_path / "ok.yaml", text)).code == 0
