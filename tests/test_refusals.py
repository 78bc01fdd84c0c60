"""Refusals found against live state name their rule, the manifest line of the declaration, and
both values in the manifest's words (JSON `true`, "Automatic", the declared key's name)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import EXAMPLES, ROOT, Result, apply_ok, mutating_calls, write

ASTRA = EXAMPLES / "astra-serverless-azure.yaml"
CONFLUENT = EXAMPLES / "confluent-azure-byok.yaml"


def line_of(manifest: Path, text: str) -> int:
    return next(n for n, line in enumerate(manifest.read_text().splitlines(), 1) if text in line)


@pytest.fixture
def applied(cmkctl: Callable[..., Result], tmp_path: Path) -> Path:
    apply_ok(cmkctl, ASTRA, tmp_path / "sandbox")
    return tmp_path / "sandbox"


def test_purge_protection_off_names_its_rule_line_and_json_values(
    cmkctl: Callable[..., Result], applied: Path, tmp_path: Path
) -> None:
    manifest = write(tmp_path / "m.yaml", ASTRA.read_text().replace("purgeProtection: true", "purgeProtection: false", 1))
    result = cmkctl("plan", "-f", manifest, "--sandbox", applied)
    assert result.code == 3
    where = f"{manifest}:{line_of(manifest, 'purgeProtection: false')}"
    assert (f"(live: true; declared at {where} as purgeProtection: false) [R-PURGE-PROTECTION]") in result.err
    assert "True" not in result.err and "False" not in result.err


def test_a_second_astra_key_names_the_declared_key(cmkctl: Callable[..., Result], applied: Path,
                                                   tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.yaml", ASTRA.read_text().replace("name: astra-eastus\n", "name: astra-eastus-v2\n")
                     .replace("key: astra-eastus}", "key: astra-eastus-v2}"))
    result = cmkctl("plan", "-f", manifest, "--sandbox", applied)
    assert result.code == 3
    where = f"{manifest}:{line_of(manifest, 'key: astra-eastus-v2}')}"
    assert ('(live: "https://acme-astra-eastus.vault.azure.net/keys/astra-eastus"; '
            f'declared at {where} as key: "astra-eastus-v2") [R-ASTRA-ONE-KEY]') in result.err
    assert "known only after apply" not in result.err
    document = json.loads(cmkctl("plan", "-f", manifest, "--sandbox", applied, "--format", "json").out)
    refused = [s for s in document["steps"] if s["actions"] == ["forbidden"]]
    assert [(s["address"], s["rules"]) for s in refused] == [("astra_registration.eastus.serverless",
                                                              ["R-ASTRA-ONE-KEY"])]
    schema = json.loads((ROOT / "schemas" / "plan.v1.json").read_text())
    assert list(Draft202012Validator(schema).iter_errors(document)) == []


def test_an_automatic_confluent_cluster_says_automatic(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "confluent:\n  clusters:\n    - {name: orders, environmentId: env-a1b2c3, "
          "region: eastus, availability: MULTI_ZONE, cku: 2}\n")
    result = cmkctl("plan", "-f", CONFLUENT, "--sandbox", sandbox)
    assert result.code == 3
    where = f"{CONFLUENT}:{line_of(CONFLUENT, '  key: kafka-eastus')}"  # the registration's `key:`
    assert f'(live: "Automatic"; declared at {where} as key: "kafka-eastus") [R-CONFLUENT-ENCRYPTION-MODE]' in result.err


def test_a_region_astra_has_not_enabled_names_its_rule_and_region(cmkctl: Callable[..., Result],
                                                                   tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", "astra:\n  accounts:\n"
          "    - {product: serverless, provider: azure, region: westus2, providerIds: []}\n")
    result = cmkctl("plan", "-f", ASTRA, "--sandbox", sandbox)
    assert result.code == 3
    assert f"declared at {ASTRA}:{line_of(ASTRA, 'name: westus2')}) [R-ASTRA-REGION]" in result.err


PREMIUM_VAULT_WITH = """
azure:
  vaults:
    - {{subscription: 22222222-2222-2222-2222-222222222222, resourceGroup: cmk-prod, name: acme-astra-eastus,
       location: eastus, sku: premium, enableRbacAuthorization: true, enablePurgeProtection: true,
       networkAcls: {{bypass: AzureServices, defaultAction: Allow}},
       keys: [{{name: astra-eastus, kty: RSA, keySize: 3072}}{more}]}}
"""


def test_a_premium_vault_holding_hsm_keys_is_not_planned_down_to_standard(cmkctl: Callable[..., Result],
                                                                         tmp_path: Path) -> None:
    """Issue 21, point 11: its HSM keys (made by hand, or no longer declared) exist only in a premium vault."""
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", PREMIUM_VAULT_WITH.format(more=", {name: payments-hsm, kty: RSA-HSM, keySize: 2048}"))
    manifest = write(tmp_path / "m.yaml", ASTRA.read_text().replace("        resourceGroup: cmk-prod\n",
                                                                    "        resourceGroup: cmk-prod\n        sku: standard\n", 1))
    result = cmkctl("plan", "-f", manifest, "--sandbox", sandbox)
    assert result.code == 3, result.out + result.err
    where = f"{manifest}:{line_of(manifest, 'sku: standard')}"
    assert ("azure_vault.eastus.acme-astra-eastus: sku: the vault holds HSM-protected keys (payments-hsm), which only "
            "a premium vault can hold") in result.err
    assert f'(live: "premium"; declared at {where} as sku: "standard") [R-HSM-SKU]' in result.err
    assert mutating_calls(sandbox) == []
    applied = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
    assert applied.code == 3 and mutating_calls(sandbox) == []

    default = write(tmp_path / "default.yaml", ASTRA.read_text())  # sku not written: standard, the default
    refused = cmkctl("plan", "-f", default, "--sandbox", sandbox)
    assert refused.code == 3 and "[R-HSM-SKU]" in refused.err
    assert f"declared at {default}:{line_of(default, 'name: acme-astra-eastus')} as sku" in refused.err


def test_a_premium_vault_without_hsm_keys_may_go_to_standard(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    write(sandbox / "world.yaml", PREMIUM_VAULT_WITH.format(more=""))
    document = json.loads(cmkctl("plan", "-f", ASTRA, "--sandbox", sandbox, "--format", "json").out)
    vault = next(s for s in document["steps"] if s["address"] == "azure_vault.eastus.acme-astra-eastus")
    assert vault["actions"] == ["update"] and [c["name"] for c in vault["changes"]] == ["sku"]
