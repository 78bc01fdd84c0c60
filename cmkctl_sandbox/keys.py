"""Microsoft.KeyVault/vaults/keys through ARM: create-if-not-exist, read, list, versions."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from cmkctl_sandbox import clock
from cmkctl_sandbox.arm_common import bad_request, json_object, refuse, resource_not_found
from cmkctl_sandbox.policies import checked_policy
from cmkctl_sandbox.routes import Params
from cmkctl_sandbox.vaults import vault_in_group
from cmkctl_sandbox.wire import Refusal, Reply, Request, State

KEY_TYPE = "Microsoft.KeyVault/vaults/keys"
VERSION_TYPE = "Microsoft.KeyVault/vaults/keys/versions"
KEY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
KEY_TYPES = ("RSA", "RSA-HSM", "EC", "EC-HSM")
RSA_SIZES = (2048, 3072, 4096)
CURVES = ("P-256", "P-384", "P-521", "P-256K")
RSA_DEFAULT_OPS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
EC_DEFAULT_OPS = ["sign", "verify"]


def sandbox_now(state: State) -> float:
    """The emulator's time (see clock.py)."""
    return clock.now(state)


def new_key(name: str, given: dict[str, Any], tags: dict[str, Any] | None = None,
            now: float | None = None) -> dict[str, Any]:
    """A key record with its first version, from KeyProperties as a PUT sends them."""
    kty = given.get("kty")
    if kty not in KEY_TYPES:
        bad_request(f"The property 'kty' must be one of {', '.join(KEY_TYPES)}.")
    record: dict[str, Any] = {"name": name, "tags": tags or {}, "kty": kty}
    record.update(_shape(kty, given))
    record["attributes"] = {
        "enabled": (given.get("attributes") or {}).get("enabled", True),
        "exportable": False,
    }
    if given.get("rotationPolicy"):
        record["rotationPolicy"] = _arm_policy(given["rotationPolicy"])
    version = new_version(now)
    if (given.get("attributes") or {}).get("exp") is not None:
        version["exp"] = given["attributes"]["exp"]
    record["versions"] = [version]
    return record


def _arm_policy(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        bad_request("The property 'rotationPolicy' must be an object.")
    try:
        return checked_policy(given)
    except Refusal as refusal:
        bad_request(f"The property 'rotationPolicy' is invalid: {refusal.reply.body['error']['message']}")


def _shape(kty: str, given: dict[str, Any]) -> dict[str, Any]:
    if kty.startswith("RSA"):
        size = given.get("keySize", 2048)
        if size not in RSA_SIZES:
            bad_request("The property 'keySize' must be 2048, 3072 or 4096 for RSA keys.")
        return {"keySize": size, "keyOps": given.get("keyOps", RSA_DEFAULT_OPS)}
    curve = given.get("curveName", "P-256")
    if curve not in CURVES:
        bad_request(f"The property 'curveName' must be one of {', '.join(CURVES)}.")
    return {"curveName": curve, "keyOps": given.get("keyOps", EC_DEFAULT_OPS)}


def new_version(now: float | None = None) -> dict[str, Any]:
    stamp = int(time.time() if now is None else now)
    return {"version": uuid.uuid4().hex, "created": stamp, "updated": stamp}


def recovery_level(vault: dict[str, Any]) -> str:
    # Soft delete is always on; purge protection removes the "Purgeable" part.
    purge_protected = vault["resource"]["properties"].get("enablePurgeProtection")
    return "Recoverable" if purge_protected else "Recoverable+Purgeable"


def key_resource(vault: dict[str, Any], key: dict[str, Any], version: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ARM document for a key (its current version) or for one of its versions."""
    current = version or key["versions"][-1]
    vault_name = vault["resource"]["name"]
    key_uri = f"https://{vault_name}.vault.azure.net/keys/{key['name']}"
    properties: dict[str, Any] = {
        "kty": key["kty"],
        "keyOps": key["keyOps"],
        "attributes": {
            **key["attributes"],
            "created": current["created"],
            "updated": current["updated"],
            **{name: current[name] for name in ("nbf", "exp") if name in current},
            "recoveryLevel": recovery_level(vault),
        },
        "keyUri": key_uri,
        "keyUriWithVersion": f"{key_uri}/{current['version']}",
    }
    for field in ("keySize", "curveName"):
        if field in key:
            properties[field] = key[field]
    if key.get("rotationPolicy"):
        policy = key["rotationPolicy"]
        # ARM's KeyRotationPolicyActionType is lower case, the data plane's capitalised.
        actions = [{**a, "action": {"type": a["action"]["type"].lower()}} for a in policy["lifetimeActions"]]
        properties["rotationPolicy"] = {"lifetimeActions": actions, "attributes": policy.get("attributes", {})}
    key_id = f"{vault['resource']['id']}/keys/{key['name']}"
    if version is None:
        return _document(key_id, key["name"], KEY_TYPE, vault, key, properties)
    return _document(
        f"{key_id}/versions/{current['version']}", current["version"], VERSION_TYPE, vault, key, properties
    )


def _document(
    resource_id: str,
    name: str,
    resource_type: str,
    vault: dict[str, Any],
    key: dict[str, Any],
    properties: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": resource_id,
        "name": name,
        "type": resource_type,
        "location": vault["resource"]["location"],
        "tags": key["tags"],
        "properties": properties,
    }


def _key(vault: dict[str, Any], params: Params) -> dict[str, Any]:
    key: dict[str, Any] | None = vault["keys"].get(params["key"].lower())
    if key is None:
        resource_not_found(KEY_TYPE, f"{vault['resource']['name']}/{params['key']}", params["rg"])
    return key


def put_key(request: Request, state: State, params: Params) -> Reply:
    vault = vault_in_group(state, params)
    name = params["key"]
    if not KEY_NAME.match(name):
        refuse(400, "BadRequest", f"The key name '{name}' is invalid: use 1-127 letters, digits and hyphens.")
    existing = vault["keys"].get(name.lower())
    if existing is not None:
        # Keys_CreateIfNotExist: an existing key comes back untouched, whatever the body says.
        return Reply(200, key_resource(vault, existing))
    body = json_object(request)
    properties = body.get("properties")
    if not isinstance(properties, dict):
        bad_request("The request body must contain 'properties'.")
    key = new_key(name, properties, body.get("tags"), sandbox_now(state))
    vault["keys"][name.lower()] = key
    return Reply(200, key_resource(vault, key))


def get_key(request: Request, state: State, params: Params) -> Reply:
    vault = vault_in_group(state, params)
    return Reply(200, key_resource(vault, _key(vault, params)))


def list_keys(request: Request, state: State, params: Params) -> Reply:
    vault = vault_in_group(state, params)
    return Reply(200, {"value": [key_resource(vault, key) for key in vault["keys"].values()]})


def list_versions(request: Request, state: State, params: Params) -> Reply:
    vault = vault_in_group(state, params)
    key = _key(vault, params)
    return Reply(200, {"value": [key_resource(vault, key, version) for version in key["versions"]]})


def get_version(request: Request, state: State, params: Params) -> Reply:
    vault = vault_in_group(state, params)
    key = _key(vault, params)
    for version in key["versions"]:
        if version["version"] == params["version"].lower():
            return Reply(200, key_resource(vault, key, version))
    resource_not_found(VERSION_TYPE, f"{vault['resource']['name']}/{key['name']}/{params['version']}", params["rg"])
