"""Mongo vCore and identity manifests: the vendor's rules, refused offline with file, line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import EXAMPLES, Result, write

GOOD = (EXAMPLES / "mongo-vcore.yaml").read_text("utf-8")
SECRET = "hunter2-canary-5b0c"
GRANT = """    roleAssignments:
      - role: Key Vault Crypto Service Encryption User
        vault: acme-mongo-eastus
        principal: {identity: orders-mongo-cmk}
"""


def invalid(cmkctl: Callable[..., Result], path: Path) -> Result:
    result = cmkctl("validate", path)
    assert result.code == 3, result
    assert "Traceback" not in result.err + result.out
    return result


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_example_is_valid(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("validate", EXAMPLES / "mongo-vcore.yaml")
    assert result.code == 0, result.err


def test_an_inline_password_is_an_error_naming_file_and_line_never_the_value(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    text = GOOD.replace("passwordFrom: {env: MONGO_ADMIN_PASSWORD}", f"password: {SECRET}")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    line = line_of(text, "password:")
    assert f"m.yaml:{line}: regions[0].registrations[0].mongo.create.administrator.password: a password is never " \
           "written in a manifest" in result.err
    assert "E-INLINE-SECRET" in result.err
    assert SECRET not in result.out + result.err


def test_a_password_in_the_variable_name_is_not_echoed(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("{env: MONGO_ADMIN_PASSWORD}", f"{{env: '{SECRET}!'}}")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "administrator.passwordFrom: expected passwordFrom: {env: NAME}" in result.err
    assert SECRET not in result.out + result.err


def test_a_versioned_key_id_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("key: orders-mongo\n", "key: https://acme-mongo-eastus.vault.azure.net/keys/orders-mongo/0a1b2c\n")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "R-VERSIONED-KEY-ID" in result.err
    assert "https://acme-mongo-eastus.vault.azure.net/keys/orders-mongo so that it follows rotation" in result.err


def test_the_versionless_key_id_is_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("key: orders-mongo\n", "key: https://acme-mongo-eastus.vault.azure.net/keys/orders-mongo\n")
    assert cmkctl("validate", write(tmp_path / "m.yaml", text)).code == 0


def test_the_identity_must_be_granted_the_key(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace(GRANT, "")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert f"m.yaml:{line_of(text, 'identity: orders-mongo-cmk')}: regions[0].registrations[0].mongo.identity" \
           in result.err
    assert "add a role assignment of 'Key Vault Crypto Service Encryption User' on vault 'acme-mongo-eastus' for " \
           "principal {identity: orders-mongo-cmk} [R-MONGO-GRANT]" in result.err


def test_a_role_without_key_use_is_not_a_grant(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("role: Key Vault Crypto Service Encryption User", "role: Key Vault Reader")
    assert "R-MONGO-GRANT" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_an_access_policy_grants_the_key_on_an_access_policy_vault(
    cmkctl: Callable[..., Result], tmp_path: Path
) -> None:
    policy = """    accessPolicies:
      - vault: acme-mongo-eastus
        principal: {identity: orders-mongo-cmk}
        keys: [get, wrapKey, unwrapKey]
"""
    text = GOOD.replace(GRANT, policy).replace("authorization: rbac", "authorization: accessPolicies")
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err
    short = text.replace("keys: [get, wrapKey, unwrapKey]", "keys: [get, wrapKey]")
    result = invalid(cmkctl, write(tmp_path / "short.yaml", short))
    assert "an access policy on vault 'acme-mongo-eastus' with keys [get, wrapKey, unwrapKey]" in result.err


def test_the_identity_must_be_declared_in_the_cluster_region(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    moved = GOOD.replace("""    identities:
      - name: orders-mongo-cmk
        resourceGroup: cmk-prod
""", "") + """  - name: westus2
    cloud: azure
    identities:
      - name: orders-mongo-cmk
        resourceGroup: cmk-prod
"""
    result = invalid(cmkctl, write(tmp_path / "m.yaml", moved))
    assert "mongo.identity: identity 'orders-mongo-cmk' is declared in region 'westus2'" in result.err
    assert "R-SAME-REGION" in result.err
    dangling = GOOD.replace("identity: orders-mongo-cmk", "identity: nobody")
    result = invalid(cmkctl, write(tmp_path / "d.yaml", dangling))
    assert "mongo.identity: no identity 'nobody' is declared in region 'eastus'" in result.err


def test_the_key_must_be_in_the_cluster_region(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("key: orders-mongo\n", "key: other-region-key\n") + """  - name: westus2
    cloud: azure
    vaults:
      - {name: acme-mongo-westus2, resourceGroup: cmk-prod}
    keys:
      - {name: other-region-key, vault: acme-mongo-westus2}
"""
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "key 'other-region-key' is in region 'westus2'; Mongo vCore needs the key in the region it encrypts" \
           in result.err


def test_an_ec_key_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("type: RSA\n        size: 3072", "type: EC\n        curve: P-256")
    assert "R-MONGO-KEY-TYPE" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_a_vault_without_purge_protection_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("purgeProtection: true", "purgeProtection: false")
    assert "R-MONGO-PURGE" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_a_closed_vault_must_let_trusted_services_through(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("trustedServicesBypass: true", "trustedServicesBypass: false\n        publicNetwork: Deny")
    assert "R-MONGO-BYPASS" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_an_identity_declared_twice(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("""      - name: orders-mongo-cmk
        resourceGroup: cmk-prod
""", """      - name: orders-mongo-cmk
        resourceGroup: cmk-prod
      - name: orders-mongo-cmk
        resourceGroup: other
""")
    assert "identity 'orders-mongo-cmk' is declared twice" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_a_dangling_identity_principal(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("principal: {identity: orders-mongo-cmk}", "principal: {identity: nobody}")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "roleAssignments[0].principal: no identity 'nobody' is declared in region 'eastus'" in result.err
