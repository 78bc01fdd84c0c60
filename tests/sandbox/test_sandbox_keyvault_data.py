"""Key Vault's data plane in the sandbox: the bearer challenge, rotation policies, clock-driven rotation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cmkctl_sandbox import Sandbox, load_state
from cmkctl_sandbox.rotation import advance_clock
from tests.emulated import VAULT_AUDIENCE, vault_client
from tests.sandbox.conftest import API, client_for, vault_path
from tests.sandbox.test_sandbox_arm import create_vault

DATA_API = {"api-version": "7.5"}
POLICY = {
    "lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}},
                        {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}}],
    "attributes": {"expiryTime": "P1Y"},
}
DAY = 86400


def data_client(sandbox: Sandbox, audience: str | None = VAULT_AUDIENCE) -> httpx.Client:
    return vault_client(sandbox, "kv-data", audience=audience)


@pytest.fixture
def key(client: httpx.Client, sandbox: Sandbox) -> str:
    # An RBAC vault: the default world's caller holds Key Vault Crypto Officer above it.
    create_vault(client, sandbox, "kv-data", enablePurgeProtection=True, enableRbacAuthorization=True)
    created = client.put(vault_path("kv-data") + "/keys/cmk", params=API,
                         json={"properties": {"kty": "RSA", "keySize": 3072, "rotationPolicy": POLICY}})
    assert created.status_code == 200, created.text
    # ARM spells the action types in lower case, as its KeyRotationPolicyActionType does.
    assert created.json()["properties"]["rotationPolicy"]["lifetimeActions"][0]["action"] == {"type": "rotate"}
    return "/keys/cmk/rotationpolicy"


def test_without_a_token_the_vault_challenges_for_its_audience(sandbox: Sandbox, key: str) -> None:
    with data_client(sandbox, audience=None) as anonymous:
        refused = anonymous.get(key, params=DATA_API)
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer authorization="https://login.microsoftonline.com/')
    assert 'resource="https://vault.azure.net"' in challenge


def test_a_token_for_another_audience_is_refused(sandbox: Sandbox, key: str) -> None:
    with data_client(sandbox, audience="https://management.azure.com") as wrong:
        refused = wrong.get(key, params=DATA_API)
    assert refused.status_code == 401 and "AKV10022: Invalid audience" in refused.json()["error"]["message"]


def test_the_policy_a_create_carried_reads_back_in_data_plane_form(sandbox: Sandbox, key: str) -> None:
    with data_client(sandbox) as vault:
        read = vault.get(key, params=DATA_API)
    assert read.status_code == 200
    assert read.json()["id"] == "https://kv-data.vault.azure.net/keys/cmk/rotationpolicy"
    assert read.json()["lifetimeActions"][0] == {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}}
    assert read.json()["attributes"]["expiryTime"] == "P1Y"


@pytest.mark.nonconforming("asks with api-version 7.4, which no definition read here has, on purpose")
def test_an_api_version_before_rotation_policies_is_refused(sandbox: Sandbox, key: str) -> None:
    with data_client(sandbox) as vault:
        old = vault.get(key, params={"api-version": "7.4"})
    assert old.status_code == 400  # rotation policies as read here came with 7.5


def test_a_key_bundle_is_read_by_version_or_as_the_current_one(sandbox: Sandbox, key: str) -> None:
    with data_client(sandbox) as vault:
        current = vault.get("/keys/cmk/", params=DATA_API)  # as azure-keyvault-keys asks, the fragment empty
        kid = current.json()["key"]["kid"]
        named = vault.get(f"/keys/cmk/{kid.rsplit('/', 1)[1]}", params=DATA_API)
        unknown = vault.get("/keys/cmk/00000000000000000000000000000000", params=DATA_API)
    assert current.status_code == 200 and kid.startswith("https://kv-data.vault.azure.net/keys/cmk/")
    assert named.status_code == 200 and named.json()["key"]["kid"] == kid
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "KeyNotFound"


def test_a_second_action_of_one_type_is_refused(sandbox: Sandbox, key: str) -> None:
    notify = {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}
    with data_client(sandbox) as vault:
        refused = vault.put(key, params=DATA_API, json={"lifetimeActions": [notify, notify],
                                                        "attributes": {"expiryTime": "P1Y"}})
    assert refused.status_code == 400 and "only one Notify action" in refused.json()["error"]["message"]


def test_a_key_without_a_policy_reports_key_vaults_default(client: httpx.Client, sandbox: Sandbox) -> None:
    create_vault(client, sandbox, "kv-data", enableRbacAuthorization=True)
    client.put(vault_path("kv-data") + "/keys/plain", params=API, json={"properties": {"kty": "RSA"}})
    with data_client(sandbox) as vault:
        read = vault.get("/keys/plain/rotationpolicy", params=DATA_API)
    assert read.json()["lifetimeActions"] == [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]


@pytest.mark.parametrize(("body", "message"), [
    ({"lifetimeActions": [{"trigger": {"timeAfterCreate": "1 year"}, "action": {"type": "Rotate"}}]},
     "not an ISO 8601 duration"),
    ({"lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Rotate"}}]},
     "needs attributes.expiryTime"),
    ({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P1D", "timeBeforeExpiry": "P1D"},
                           "action": {"type": "Rotate"}}], "attributes": {"expiryTime": "P1Y"}},
     "exactly one of"),
])
def test_a_malformed_policy_is_refused(sandbox: Sandbox, key: str, body: dict[str, object], message: str) -> None:
    _assert_refused(sandbox, key, body, message)


# What KeyRotationPolicy's schema forbids (the harness catches these in the request): the service refuses
# them with 400, where the sandbox once stored an empty policy or failed with a 500.
@pytest.mark.nonconforming("sends policies the 7.5 definition forbids, to see the sandbox refuse them")
@pytest.mark.parametrize(("body", "message"), [
    ({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Disable"}}]},
     "Rotate or Notify"),
    ([{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}}], "must be a JSON object"),
    (None, "The rotation policy must be a JSON object"),
    ({"lifetimeActions": [], "attributes": "P1Y"}, "attributes must be a JSON object"),
    ({"lifetimeActions": {"trigger": {"timeAfterCreate": "P90D"}}}, "lifetimeActions must be a JSON array"),
    ({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"}, "action": "Rotate"}]}, "action must be"),
])
def test_a_policy_of_the_wrong_shape_is_refused(sandbox: Sandbox, key: str, body: object, message: str) -> None:
    _assert_refused(sandbox, key, body, message)


def _assert_refused(sandbox: Sandbox, key: str, body: object, message: str) -> None:
    with data_client(sandbox) as vault:
        refused = vault.put(key, params=DATA_API, json=body)
    assert refused.status_code == 400 and message in refused.json()["error"]["message"]
    assert load_state(sandbox.directory)["arm"]["vaults"]["kv-data"]["keys"]["cmk"]["rotationPolicy"]["attributes"] \
        == {"expiryTime": "P1Y"}


def test_moving_the_clock_rotates_by_policy(tmp_path: Path) -> None:
    directory = tmp_path / "world"
    with Sandbox(directory) as running, client_for(running) as arm:
        create_vault(arm, running, "kv-data", enablePurgeProtection=True)
        arm.put(vault_path("kv-data") + "/keys/cmk", params=API,
                json={"properties": {"kty": "RSA", "rotationPolicy": POLICY}})
    assert advance_clock(directory, 89 * DAY) == []
    made = advance_clock(directory, 2 * DAY)
    versions = load_state(directory)["arm"]["vaults"]["kv-data"]["keys"]["cmk"]["versions"]
    assert made == [f"https://kv-data.vault.azure.net/keys/cmk/{versions[-1]['version']}"]
    assert versions[1]["created"] - versions[0]["created"] == 90 * DAY
    assert versions[1]["exp"] - versions[1]["created"] == 365 * DAY
    # Two more periods pass at once: each rotation is made at the moment it came due.
    assert len(advance_clock(directory, 180 * DAY)) == 2
