"""Invalid manifests: exit 3, file and line and field, every problem at once, no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result, write

GOOD = (EXAMPLES / "astra-serverless-azure.yaml").read_text("utf-8")


def invalid(cmkctl: Callable[..., Result], path: Path) -> Result:
    result = cmkctl("validate", path)
    assert result.code == 3, result
    assert "Traceback" not in result.err + result.out
    return result


def test_examples_are_valid(cmkctl: Callable[..., Result]) -> None:
    result = cmkctl("validate", EXAMPLES)
    assert result.code == 0, result.err
    assert "acme-astra" in result.out


def test_duplicate_key_is_reported_with_both_lines(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("  name: acme-astra\n", "  name: acme-astra\n  name: other\n")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:8: metadata.name: duplicate key 'name' (first at line 7)" in result.err


def test_unknown_field_names_the_field_and_its_line(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        trustedServicesBypass: true\n", "        trustedServicesBypass: true\n        colour: blue\n", 1)
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:24: regions[0].vaults[0].colour: unknown field 'colour'" in result.err


def test_wrong_type_says_what_was_expected(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("softDeleteRetentionDays: 90", "softDeleteRetentionDays: ninety")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:21: regions[0].vaults[0].softDeleteRetentionDays: expected integer, got str 'ninety'" in result.err


def test_every_problem_is_reported_at_once(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("softDeleteRetentionDays: 90", "softDeleteRetentionDays: ninety")
    text = text.replace("    cloud: azure\n", "    cloud: azure\n    colour: blue\n", 1)
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "2 problems" in result.err
    assert "colour" in result.err and "ninety" in result.err


def test_dangling_vault_reference(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        vault: acme-astra-eastus\n        type: RSA", "        vault: nowhere\n        type: RSA")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:26: regions[0].keys[0].vault: no vault 'nowhere' is declared in region 'eastus'" in result.err


def test_versioned_key_id_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    versioned = "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus/a00a0000000a000aa000a000a000a000"
    text = GOOD.replace("key: astra-eastus}", f"key: \"{versioned}\"}}")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:34:" in result.err
    assert "[R-VERSIONED-KEY-ID]" in result.err
    assert "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus so that" in result.err


def test_versionless_key_id_is_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("key: astra-eastus}", "key: \"https://acme-astra-eastus.vault.azure.net/keys/astra-eastus\"}")
    assert cmkctl("validate", write(tmp_path / "m.yaml", text)).code == 0


def test_key_in_another_region_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("- astra: {product: serverless, key: astra-westus2}", "- astra: {product: serverless, key: astra-eastus}")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "key 'astra-eastus' is in region 'eastus'" in result.err
    assert "[R-SAME-REGION]" in result.err


def test_vault_of_another_region_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        vault: acme-astra-westus2\n        type: RSA", "        vault: acme-astra-eastus\n        type: RSA")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "vault 'acme-astra-eastus' is in region 'eastus'" in result.err


def test_vault_without_rbac_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("authorization: rbac", "authorization: accessPolicies", 1)
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:22: regions[0].vaults[0].authorization:" in result.err
    assert "[R-ASTRA-RBAC]" in result.err


def test_vault_without_trusted_services_bypass_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("trustedServicesBypass: true", "trustedServicesBypass: false", 1)
    assert "[R-ASTRA-BYPASS]" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_ec_key_for_astra_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        type: RSA\n        size: 3072", "        type: EC\n        curve: P-256", 1)
    assert "[R-ASTRA-KEY-TYPE]" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_hsm_key_for_astra_is_refused_in_the_procedures_words(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        trustedServicesBypass: true\n", "        trustedServicesBypass: true\n        sku: premium\n", 1)
    text = text.replace("        type: RSA\n", "        type: RSA-HSM\n", 1)
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:28: regions[0].keys[0].type: key 'astra-eastus' is RSA-HSM" in result.err
    assert '"Create a software-protected key in your key vault."' in result.err
    assert "[R-ASTRA-KEY-TYPE]" in result.err and "1 problem" in result.err
    assert cmkctl("apply", "-f", tmp_path / "m.yaml", "--sandbox", tmp_path / "sb", "--auto-approve").code == 3


def test_hsm_key_for_confluent_stays_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = (EXAMPLES / "confluent-azure-byok.yaml").read_text("utf-8")
    text = text.replace("        trustedServicesBypass: true\n", "        trustedServicesBypass: true\n        sku: premium\n", 1)
    text = text.replace("        type: RSA\n", "        type: RSA-HSM\n", 1)
    assert "type: RSA-HSM" in text
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err


def test_second_astra_key_for_a_region_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace(
        "    keys:\n      - name: astra-eastus\n",
        "    keys:\n      - name: second\n        vault: acme-astra-eastus\n      - name: astra-eastus\n", 1,
    ).replace("      - astra: {product: serverless, key: astra-eastus}",
              "      - astra: {product: serverless, key: astra-eastus}\n      - astra: {product: serverless, key: second}")
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "[R-ASTRA-ONE-KEY]" in result.err
    assert "region 'eastus'" in result.err


def test_missing_grant_for_astra_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("        principal: {astra: serverless}\n", "        principal: {objectId: 44444444-4444-4444-4444-444444444444}\n", 1)
    assert "[R-ASTRA-GRANT]" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_astra_grant_on_the_key_alone_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    scope = ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/cmk-prod/providers/"
             "Microsoft.KeyVault/vaults/acme-astra-eastus/keys/astra-eastus")
    text = GOOD.replace("        vault: acme-astra-eastus\n        principal", f"        scope: {scope}\n        principal", 1)
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml:31: regions[0].roleAssignments[0].scope: this role assignment is scoped to key 'astra-eastus'" in (
        result.err)
    assert '"Assign the Key Vault Crypto Service Encryption User role to your key vault."' in result.err
    assert "[R-ASTRA-GRANT]" in result.err and "1 problem" in result.err
    assert cmkctl("apply", "-f", tmp_path / "m.yaml", "--sandbox", tmp_path / "sb", "--auto-approve").code == 3


def test_role_scoped_wider_than_the_vault_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace(
        "        vault: acme-astra-eastus\n        principal",
        "        scope: /subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/cmk-prod\n        principal", 1,
    )
    assert "[R-ROLE-SCOPE]" in invalid(cmkctl, write(tmp_path / "m.yaml", text)).err


def test_role_scoped_to_the_vault_by_id_is_accepted(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    scope = ("/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/cmk-prod/providers/"
             "Microsoft.KeyVault/vaults/acme-astra-eastus")
    text = GOOD.replace("        vault: acme-astra-eastus\n        principal", f"        scope: {scope}\n        principal", 1)
    result = cmkctl("validate", write(tmp_path / "m.yaml", text))
    assert result.code == 0, result.err


def test_not_utf8(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = invalid(cmkctl, write(tmp_path / "m.yaml", GOOD.encode("utf-8") + b"\n# caf\xe9\n"))
    assert "not UTF-8" in result.err and "m.yaml" in result.err


def test_huge_file_is_refused_before_parsing(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = invalid(cmkctl, write(tmp_path / "m.yaml", "# " + "x" * (5 * 1024 * 1024)))
    assert "manifests are limited to" in result.err


def test_alias_bomb_is_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    result = invalid(cmkctl, write(tmp_path / "m.yaml", bomb))
    assert "too large" in result.err


def test_python_object_tags_are_refused(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    text = GOOD.replace("name: acme-astra\n", "name: !!python/object/apply:os.system ['echo pwned']\n", 1)
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "pwned" not in result.out
    assert "m.yaml:7" in result.err


@pytest.mark.parametrize("text", ["[", "apiVersion: cmkctl/v1\n  bad indent: x\n", "- just\n- a list\n"])
def test_broken_yaml_gets_a_located_message(cmkctl: Callable[..., Result], tmp_path: Path, text: str) -> None:
    result = invalid(cmkctl, write(tmp_path / "m.yaml", text))
    assert "m.yaml" in result.err


def test_missing_path(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    result = invalid(cmkctl, tmp_path / "nowhere.yaml")
    assert "no such file or folder" in result.err


NAMES_THE_VENDORS_REFUSE = {
    "a vault name with two hyphens in a row": ("name: acme-astra-eastus\n", "name: acme--astra-eastus\n",
                                               "regions[0].vaults[0].name"),
    "a resource group ending with a period": ("resourceGroup: cmk-prod\n", "resourceGroup: cmk-prod.\n",
                                              "regions[0].vaults[0].resourceGroup"),
    "a key name with a slash": ("- name: astra-eastus\n", "- name: astra/eastus\n", "regions[0].keys[0].name"),
}


@pytest.mark.parametrize("case", NAMES_THE_VENDORS_REFUSE)
def test_names_the_vendors_refuse_are_refused_at_validate(cmkctl: Callable[..., Result], tmp_path: Path,
                                                          case: str) -> None:
    old, new, field = NAMES_THE_VENDORS_REFUSE[case]
    result = invalid(cmkctl, write(tmp_path / "m.yaml", GOOD.replace(old, new, 1)))
    assert "m.yaml:" in result.err and f"{field}: " in result.err and "[E-SCHEMA]" in result.err
