"""What the emulator issues and checks, and the tables it keeps of its own: roles from Azure's built-in
definitions, ISO 8601 durations, its clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmkctl_sandbox import Sandbox
from cmkctl_sandbox.credentials import Issued, token_audience
from cmkctl_sandbox.durations import parse_duration
from cmkctl_sandbox.roles import ROLE_NAMES, grants, grants_key_use
from tests.emulated import http_client
from tests.sandbox.conftest import API, vault_path


@pytest.mark.parametrize(("guid", "uses_keys"), [
    ("e147488a-f6f5-4113-8e2d-b22465e65bf6", True),   # Key Vault Crypto Service Encryption User
    ("12338af0-0e69-4776-bea7-57ae8d297424", True),   # Key Vault Crypto User
    ("14b46e9e-c2b7-41b4-b07b-48a6ebf60603", True),   # Key Vault Crypto Officer: vaults/keys/*
    ("00482a5a-887f-4fb3-b363-3b7fe8e74483", True),   # Key Vault Administrator: vaults/*
    ("21090545-7ca7-4776-b22c-e363652d74d2", False),  # Key Vault Reader: vaults/*/read, no wrap
    ("4633458b-17de-408a-b874-0445c86b69e6", False),  # Key Vault Secrets User
    ("4d97b98b-1d4f-4787-a291-c67834d212e7", False),  # Network Contributor: no data action
    ("00000000-0000-0000-0000-000000000000", False),  # no such role
])
def test_a_role_uses_keys_when_its_data_actions_cover_read_wrap_and_unwrap(guid: str, uses_keys: bool) -> None:
    assert grants_key_use(guid) is uses_keys
    assert grants_key_use(guid.upper()) is uses_keys


def test_data_actions_match_as_rbac_matches_them() -> None:
    reader = "21090545-7ca7-4776-b22c-e363652d74d2"
    assert grants(reader, "Microsoft.KeyVault/vaults/keys/read")  # `*` spans a segment
    assert not grants(reader, "Microsoft.KeyVault/vaults/keys/wrap/action")
    assert grants("00482a5a-887f-4fb3-b363-3b7fe8e74483", "microsoft.keyvault/VAULTS/keys/wrap/action")
    assert ROLE_NAMES["e147488a-f6f5-4113-8e2d-b22465e65bf6"] == "Key Vault Crypto Service Encryption User"


def test_durations_are_iso_8601_as_key_vault_takes_them() -> None:
    assert parse_duration("P90D").days == 90
    assert parse_duration("P1Y").days == 365
    assert parse_duration("P1M").days == 31  # measured from a January
    assert parse_duration("PT12H").total_seconds() == 12 * 3600
    for wrong in ("90D", "P", "PT", "P0D", "P1.5D", "P1DT"):
        with pytest.raises(ValueError):
            parse_duration(wrong)


def test_issued_credentials_never_show_and_are_new_at_each_start() -> None:
    issued = Issued.random()
    assert issued.aws_secret_access_key not in repr(issued) and "***" in repr(issued)
    assert issued != Issued.random()
    assert "***" in repr(issued.azure_credential())
    token = issued.azure_credential().get_token("https://vault.azure.net/.default").token
    assert token_audience(token, issued.azure_signing_key) == "https://vault.azure.net"
    assert token_audience(token, "another key") is None  # signed, and checked
    assert token_audience(token.rsplit(".", 1)[0] + ".forged", issued.azure_signing_key) is None


def test_arm_refuses_a_token_it_did_not_sign_or_meant_for_another_service(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as sandbox, http_client(sandbox) as client:
        forged = Issued.random().azure_credential().get_token(f"{sandbox.url}/.default").token
        for_vaults = sandbox.issued.azure_credential().get_token("https://vault.azure.net/.default").token
        statuses = [client.get(vault_path("kv"), params=API, headers={"Authorization": f"Bearer {token}"}).status_code
                    for token in (forged, for_vaults)]
        assert client.get(vault_path("kv"), params=API).status_code == 404  # issued, for ARM: let in
    assert statuses == [401, 401]


def test_a_clients_sleep_moves_the_emulators_time_on_at_once(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as sandbox:
        clock, alongside = sandbox.offer.clock, sandbox.offer.clock  # two waiters, from the same moment
        before = clock.monotonic()
        clock.sleep(600)
        assert clock.monotonic() - before >= 600 and 600 <= sandbox.clock_offset < 601
        # Sleepers that started together wake together: a shorter sleep from that moment is already over.
        alongside.sleep(30)
        assert 600 <= sandbox.clock_offset < 601 and alongside.monotonic() - before >= 600
