"""Key Vault vaults and keys through the management plane (azure-mgmt-keyvault).

Live shapes follow `reconciler.core.kinds`: camelCase names as ARM spells them. The SDK's models are
read through `as_dict()`, which yields the wire (camelCase) form, so nothing SDK-shaped leaves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.core.errors import ProviderError
from reconciler.core.wirelog import LOG
from reconciler.manifest.rotation import parse_duration, policy_from_key_vault, policy_to_key_vault
from reconciler.plan.model import UNREADABLE
from reconciler.providers.azure_common import (
    SDK_RETRY_TOTAL,
    AzureSession,
    azure_errors,
    client_transport,
    error_code,
    normalize_uri,
    sdk_errors,
    translate,
    wire_policy,
)
from reconciler.providers.base import Capability, Connection, Live
from reconciler.providers.https import require_https

KEYVAULT_CLIENT = "azure.mgmt.keyvault:KeyVaultManagementClient"
KEY_CLIENT = "azure.keyvault.keys:KeyClient"
# The data plane's api-version: rotation policies as this module reads and writes them.
KEY_VAULT_API_VERSION = "7.5"
DATA_PLANE = "keyvault"

# ARM leaves out of a vault what was never set on it (a vault made by hand, in the portal or with
# an older api-version): an absent property means the default the definition of the api-version
# in use (Key Vault 2026-05-15, VaultProperties and NetworkRuleSet) documents for it.
# No networkAcls: no rules, so public access; NetworkRuleSet.bypass "If not specified the default
# is 'AzureServices'".
DEFAULT_NETWORK_ACLS = {"bypass": "AzureServices", "defaultAction": "Allow"}
# VaultProperties.softDeleteRetentionInDays `"default": 90`.
DEFAULT_RETENTION_DAYS = 90
# A vault that does not say is an access-policy vault, whatever the schema's `"default": true` of
# 2026-02-01 and later: the 2026-05-15 getVault and createVault examples answer access policies and
# no enableRbacAuthorization, every live recording leaves it out of vaults that never set it, and
# Key Vault's team, announcing the property: "When this is set to true the key vault will use Rbac
# to authorize, otherwise (false or null) it still use the legacy access policy authorization"
# (Azure/azure-powershell#10557, Azure/azure-cli#11268). A vault made with it answers `true`.
DEFAULT_RBAC_AUTHORIZATION = False

# Declared vault attributes ARM cannot change on an existing vault (see kinds.AZURE_VAULT).
VAULT_FIXED = ("location", "tenantId", "softDeleteRetentionInDays")

# The only operations a key-encryption key needs (Astra, Confluent, Cosmos DB all wrap/unwrap).
KEY_OPS = ["wrapKey", "unwrapKey"]

# What lets a caller read and write a rotation policy, by Key Vault's 403 (its inner error code):
# the vault's firewall, then its permission model (README, "What the caller needs").
READ_POLICY_NEEDS = {
    "ForbiddenByFirewall": "Key Vault's firewall refused the caller (ForbiddenByFirewall): let the address cmkctl "
                           "runs from through vault {vault}'s network rules (an IP rule, a virtual-network rule or a "
                           "private endpoint)",
    "ForbiddenByRbac": "the caller holds no role allowing Microsoft.KeyVault/vaults/keyrotationpolicies/read on vault "
                       "{vault} or the key (ForbiddenByRbac): assign it Key Vault Reader, the least built-in role that "
                       "allows it (Key Vault Crypto Officer also allows changing the policy)",
    "AccessDenied": "vault {vault}'s access policies give the caller no getrotationpolicy key permission (Forbidden): "
                    "add one for it (with setrotationpolicy to change the policy)",
}
WRITE_POLICY_NEEDS = {
    "ForbiddenByFirewall": READ_POLICY_NEEDS["ForbiddenByFirewall"],
    "ForbiddenByRbac": "the caller holds no role allowing Microsoft.KeyVault/vaults/keyrotationpolicies/write on vault "
                       "{vault} or the key (ForbiddenByRbac): assign it Key Vault Crypto Officer",
    "AccessDenied": "vault {vault}'s access policies give the caller no setrotationpolicy key permission (Forbidden): "
                    "add it to the caller's access policy",
}


def _keyvault_client(session: AzureSession, subscription_id: str) -> Any:
    return session.client(KEYVAULT_CLIENT, session.check_subscription(subscription_id))


def _is_not_found(e: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(e, ResourceNotFoundError)


# ---------------------------------------------------------------------------------------------
# vaults


def vault_live(vault: Mapping[str, Any]) -> Live:
    """A vault in wire form -> the kind's attributes and outputs."""
    props: Mapping[str, Any] = vault.get("properties") or {}
    acls: Mapping[str, Any] = props.get("networkAcls") or {}
    return {
        "location": vault.get("location"),
        "tenantId": props.get("tenantId"),
        "sku": (props.get("sku") or {}).get("name"),
        "enableRbacAuthorization": bool(_given(props, "enableRbacAuthorization", DEFAULT_RBAC_AUTHORIZATION)),
        "enablePurgeProtection": bool(props.get("enablePurgeProtection", False)),
        "softDeleteRetentionInDays": _given(props, "softDeleteRetentionInDays", DEFAULT_RETENTION_DAYS),
        "networkAcls": {
            "bypass": acls.get("bypass", DEFAULT_NETWORK_ACLS["bypass"]),
            "defaultAction": acls.get("defaultAction", DEFAULT_NETWORK_ACLS["defaultAction"]),
        },
        "tags": dict(vault.get("tags") or {}),
        "id": vault.get("id"),
        "vaultUri": normalize_uri(props["vaultUri"]) if props.get("vaultUri") else None,
        # Not declarable (always on since 2025), but a health check says so should it ever be off.
        "enableSoftDelete": _given(props, "enableSoftDelete", True),
    }


def _given(props: Mapping[str, Any], name: str, default: Any) -> Any:
    """The property, or its documented default when ARM omits it (or answers null)."""
    value = props.get(name)
    return default if value is None else value


def vault_create_body(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The PUT body in wire form.

    `enablePurgeProtection: false` is rejected by ARM even on create, so it is omitted unless true;
    `enableRbacAuthorization` is always explicit because its default changed between api-versions.
    """
    properties: dict[str, Any] = {
        "tenantId": attributes["tenantId"],
        "sku": {"family": "A", "name": attributes.get("sku", "standard")},
        "enableRbacAuthorization": bool(attributes.get("enableRbacAuthorization", True)),
        "enableSoftDelete": True,
        # RBAC vaults need no access policies; older api-versions want the array present.
        "accessPolicies": [],
    }
    if attributes.get("enablePurgeProtection"):
        properties["enablePurgeProtection"] = True
    if attributes.get("softDeleteRetentionInDays") is not None:
        properties["softDeleteRetentionInDays"] = attributes["softDeleteRetentionInDays"]
    if attributes.get("networkAcls") is not None:
        properties["networkAcls"] = dict(attributes["networkAcls"])
    return {
        "location": attributes["location"],
        "tags": dict(attributes.get("tags") or {}),
        "properties": properties,
    }


def vault_patch_body(
    attributes: Mapping[str, Any], live: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The PATCH body carrying only the declared attributes that differ from `live`.

    `current` is the vault as ARM returned it: network rules (IP and VNet lists) that the manifest
    does not name are kept, since PATCH replaces `networkAcls` as a whole.
    """
    changed = {name: value for name, value in attributes.items() if live.get(name) != value}
    _refuse_fixed(changed, live)
    properties: dict[str, Any] = {}
    if "sku" in changed:
        properties["sku"] = {"family": "A", "name": changed["sku"]}
    if "enableRbacAuthorization" in changed:
        properties["enableRbacAuthorization"] = bool(changed["enableRbacAuthorization"])
    if changed.get("enablePurgeProtection"):
        properties["enablePurgeProtection"] = True
    if "networkAcls" in changed:
        current_acls = (current.get("properties") or {}).get("networkAcls") or {}
        properties["networkAcls"] = {**current_acls, **changed["networkAcls"]}
    body: dict[str, Any] = {"properties": properties}
    if "tags" in changed:
        # Tags someone else added stay: cmkctl owns only the tags it declares.
        body["tags"] = {**(live.get("tags") or {}), **(changed["tags"] or {})}
    return body


def _refuse_fixed(changed: Mapping[str, Any], live: Mapping[str, Any]) -> None:
    """The planner forbids these changes; refuse again here rather than send a doomed request."""
    for name in VAULT_FIXED:
        if name in changed:
            raise ProviderError(f"azure_vault: {name} cannot change on an existing vault", plane="arm")
    if (
        "enablePurgeProtection" in changed
        and not changed["enablePurgeProtection"]
        and live.get("enablePurgeProtection")
    ):
        raise ProviderError("azure_vault: purge protection, once on, can never be turned off", plane="arm")


def _soft_deleted_error(name: str, e: Exception) -> ProviderError | None:
    """ARM's 409 for a name held by a soft-deleted vault, said so the user knows what to do."""
    if getattr(e, "status_code", None) != 409 or error_code(e) != "ConflictError":
        return None
    if "deleted state" not in str(getattr(getattr(e, "error", None), "message", "")):
        return None
    return ProviderError(
        f"azure_vault {name}: the name is held by a soft-deleted vault; declare `recover: true` on the vault "
        "to recover it (createMode: recover), or purge it, then apply again. cmkctl never purges a vault.",
        plane="arm",
        code="ConflictError",
        status=409,
    )


class VaultHandler:
    kind = "azure_vault"
    capabilities: frozenset[Capability] = frozenset({Capability.READS_DECLARED, Capability.REPORTS_NAME_HOLDER})

    def __init__(self, session: AzureSession) -> None:
        self._session = session

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        raw = vault_in_group(self._session, identity)
        return None if raw is None else vault_live(raw)

    def read_declared(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live | None:
        """The vault; and, when the manifest would take a premium vault to standard, its HSM keys
        (the planner refuses that while there are any). Other plans cost no read more."""
        live = self.read(identity=identity)
        if live is not None and str(live.get("sku")).lower() == "premium" and attributes.get("sku") == "standard":
            live["hsmKeys"] = hsm_keys(self._session, identity)
        return live

    def held(self, *, identity: Mapping[str, Any]) -> Live | None:
        """The soft-deleted vault holding the name of an absent one (ARM's deleted-vaults list,
        fetched once per run and only when a declared vault is absent), or None."""
        deleted = self._session.lists.get(("deletedVaults", str(identity["subscriptionId"]).lower()),
                                          lambda: _list_deleted(self._session, identity))
        return deleted.get(str(identity["name"]).lower())

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        client = _keyvault_client(self._session, identity["subscriptionId"])
        what = f"create vault {identity['name']}"
        body = vault_create_body(attributes)
        # Asked again at apply: `recover: true` recovers the vault only while it is soft-deleted.
        if attributes.get("recover") and self.held(identity=identity) is not None:
            body["properties"]["createMode"] = "recover"
        try:
            poller = client.vaults.begin_create_or_update(identity["resourceGroup"], identity["name"], body)
            vault = poller.result()
        except sdk_errors() as e:
            raise (_soft_deleted_error(identity["name"], e) or translate(e, what)) from e
        finally:
            forget_group(self._session, identity)
            self._session.lists.forget(("deletedVaults", str(identity["subscriptionId"]).lower()))
        return vault_live(vault.as_dict())

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        current = self._get(identity)
        if current is None:
            raise ProviderError(f"azure_vault {identity['name']} disappeared before its update", plane="arm")
        body = vault_patch_body(attributes, live, current)
        client = _keyvault_client(self._session, identity["subscriptionId"])
        try:
            with azure_errors(f"update vault {identity['name']}"):
                vault = client.vaults.update(identity["resourceGroup"], identity["name"], body)
        finally:
            forget_group(self._session, identity)
        return vault_live(vault.as_dict())

    def _get(self, identity: Mapping[str, Any]) -> dict[str, Any] | None:
        client = _keyvault_client(self._session, identity["subscriptionId"])
        try:
            vault = client.vaults.get(identity["resourceGroup"], identity["name"])
        except sdk_errors() as e:
            if _is_not_found(e):
                return None
            raise translate(e, f"read vault {identity['name']}") from e
        raw: dict[str, Any] = vault.as_dict()
        return raw


def deleted_vault_live(deleted: Mapping[str, Any]) -> Live:
    props: Mapping[str, Any] = deleted.get("properties") or {}
    return {"name": deleted.get("name"), "location": props.get("location"), "vaultId": props.get("vaultId"),
            "deletionDate": _text(props.get("deletionDate")),
            "scheduledPurgeDate": _text(props.get("scheduledPurgeDate")),
            "purgeProtectionEnabled": bool(props.get("purgeProtectionEnabled", False))}


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _list_deleted(session: AzureSession, identity: Mapping[str, Any]) -> dict[str, Live]:
    client = _keyvault_client(session, identity["subscriptionId"])
    with azure_errors("list the subscription's soft-deleted vaults"):
        listed = [deleted_vault_live(v.as_dict()) for v in client.vaults.list_deleted()]
    return {str(v["name"]).lower(): v for v in listed}


def _group_key(identity: Mapping[str, Any]) -> tuple[str, str, str]:
    return ("vaults", str(identity["subscriptionId"]).lower(), str(identity["resourceGroup"]).lower())


def vault_in_group(session: AzureSession, identity: Mapping[str, Any]) -> dict[str, Any] | None:
    """The vault in wire form, from one list of its resource group per run (vaults and access
    policies of a whole fleet then cost a call per resource group), or None when it does not exist."""
    vaults = session.lists.get(_group_key(identity), lambda: _list_group(session, identity))
    return vaults.get(str(identity["name"]).lower())


def subscription_vaults_key(subscription_id: str) -> tuple[str, str]:
    """Where a run keeps the list of every vault of a subscription (the unmanaged report's)."""
    return ("subscriptionVaults", subscription_id.lower())


def forget_group(session: AzureSession, identity: Mapping[str, Any]) -> None:
    """After a write to a vault of the group: the next read lists it (and the subscription's) again."""
    session.lists.forget(_group_key(identity))
    session.lists.forget(subscription_vaults_key(str(identity["subscriptionId"])))


def _list_group(session: AzureSession, identity: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    client = _keyvault_client(session, identity["subscriptionId"])
    group = identity["resourceGroup"]
    try:
        found = {str(v.name).lower(): v.as_dict() for v in client.vaults.list_by_resource_group(group)}
    except sdk_errors() as e:
        if _is_not_found(e):
            return {}  # no resource group yet: no vault in it either
        raise translate(e, f"list vaults of resource group {group}") from e
    return found


# ---------------------------------------------------------------------------------------------
# keys


def key_live(key: Mapping[str, Any]) -> Live:
    """A key in wire form -> the kind's attributes and outputs; absent attributes are left out.

    The current version's attributes come with it (ARM's read carries them): whether the key is
    enabled and the window it may be used in, for a health check to read without another call.
    """
    props: Mapping[str, Any] = key.get("properties") or {}
    live: Live = {"kty": props.get("kty"), "tags": dict(key.get("tags") or {}), "id": key.get("id")}
    for name in ("keySize", "curveName"):
        if props.get(name) is not None:
            live[name] = props[name]
    for name in ("keyUri", "keyUriWithVersion"):
        live[name] = normalize_uri(props[name]) if props.get(name) else None
    attributes: Mapping[str, Any] = props.get("attributes") or {}
    live.update({"enabled": attributes.get("enabled"), "notBefore": attributes.get("nbf"),
                 "expires": attributes.get("exp"), "versionCreated": attributes.get("created")})
    return live


def key_create_parameters(attributes: Mapping[str, Any]) -> Any:
    from azure.mgmt.keyvault.models import KeyCreateParameters, KeyProperties

    kty = attributes["kty"]
    policy = attributes.get("rotationPolicy")
    properties = KeyProperties(
        kty=kty,
        key_size=attributes.get("keySize"),
        curve_name=attributes.get("curveName"),
        # EC keys cannot wrap; let the service pick their operations.
        key_ops=KEY_OPS if str(kty).startswith("RSA") else None,
        rotation_policy=_arm_rotation_policy(policy) if policy else None,
        attributes=_first_version_attributes(policy),
    )
    return KeyCreateParameters(properties=properties, tags=dict(attributes.get("tags") or {}))


def _arm_rotation_policy(policy: Mapping[str, Any]) -> Any:
    """The declared policy as ARM's KeyProperties.rotationPolicy: a create carries it."""
    from azure.mgmt.keyvault.models import RotationPolicy

    return RotationPolicy(policy_to_key_vault(policy, action_case="rotate"))


def _first_version_attributes(policy: Mapping[str, Any] | None) -> Any:
    """The first version expires as the policy's later ones will: Key Vault applies expiryTime
    only to the versions a rotation makes, and a timeBeforeExpiry trigger needs an expiry."""
    from azure.mgmt.keyvault.models import KeyAttributes

    if not policy or not policy.get("expiresAfter"):
        return None
    return KeyAttributes(expires=int(time.time() + parse_duration(policy["expiresAfter"]).total_seconds()))


def _check_key_matches(name: str, attributes: Mapping[str, Any], live: Mapping[str, Any]) -> None:
    """ARM returns an existing key unchanged on create; say so if it is not the declared one."""
    for attr in ("kty", "keySize", "curveName"):
        if attributes.get(attr) is not None and live.get(attr) != attributes[attr]:
            raise ProviderError(
                f"azure_key {name} already exists with {attr}={live.get(attr)!r}, not {attributes[attr]!r}; "
                "ARM never changes an existing key: declare a new key name",
                plane="arm",
            )


def _keys_of_vault(subscription_id: str, resource_group: str, vault: str) -> tuple[str, str, str, str]:
    return ("vaultKeys", subscription_id.lower(), resource_group.lower(), vault.lower())


def vault_keys(session: AzureSession, subscription_id: str, resource_group: str, vault: str) -> list[dict[str, Any]]:
    """The keys of a vault (name, tags, versionless URI), listed once per run: the plan's key reads
    and the report of keys the key set no longer declares share the one list."""
    return session.lists.get(_keys_of_vault(subscription_id, resource_group, vault),
                             lambda: _list_keys(session, subscription_id, resource_group, vault))


def _list_keys(session: AzureSession, subscription_id: str, resource_group: str, vault: str) -> list[dict[str, Any]]:
    try:
        listed = _keyvault_client(session, subscription_id).keys.list(resource_group, vault)
        found = [k.as_dict() for k in listed]
    except sdk_errors() as e:
        if _is_not_found(e):
            return []
        raise translate(e, f"list the keys of vault {vault}") from e
    return [{**key_live(k), "name": k["name"]} for k in found]


def hsm_keys(session: AzureSession, vault: Mapping[str, Any]) -> list[str]:
    """The names of the vault's HSM-protected keys. ARM's list of keys carries no type (the published
    listKeys example has none), so a key the list does not type is read."""
    subscription, group, name = vault["subscriptionId"], vault["resourceGroup"], vault["name"]
    client, found = _keyvault_client(session, subscription), []
    for key in vault_keys(session, subscription, group, name):
        kty = key.get("kty")
        if kty is None:
            try:
                kty = key_live(client.keys.get(group, name, key["name"]).as_dict())["kty"]
            except sdk_errors() as e:
                raise translate(e, f"read key {name}/{key['name']}") from e
        if str(kty).upper().endswith("-HSM"):
            found.append(str(key["name"]))
    return sorted(found)


class KeyHandler:
    kind = "azure_key"
    capabilities: frozenset[Capability] = frozenset({Capability.READS_DECLARED})

    def __init__(self, session: AzureSession) -> None:
        self._session = session

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        # The vault's list says whether the key exists (the unmanaged report needs that list
        # anyway); it lacks type, size and the versioned URI, so an existing key is then read.
        subscription, group, vault = identity["subscriptionId"], identity["resourceGroup"], identity["vault"]
        listed = vault_keys(self._session, subscription, group, vault)
        if not any(k["name"].lower() == identity["name"].lower() for k in listed):
            return None
        client = _keyvault_client(self._session, identity["subscriptionId"])
        try:
            key = client.keys.get(identity["resourceGroup"], identity["vault"], identity["name"])
        except sdk_errors() as e:
            if _is_not_found(e):
                return None
            raise translate(e, f"read key {identity['vault']}/{identity['name']}") from e
        return key_live(key.as_dict())

    def read_declared(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live | None:
        """The key, and its rotation policy when one is declared (one data-plane read more).

        ARM's read of a key does not carry its rotation policy: when Key Vault refuses the caller the
        data-plane read (its firewall, or no permission), the policy is left unknown, with what would
        let cmkctl read it, rather than failing the plan."""
        live = self.read(identity=identity)
        if live is not None and "rotationPolicy" in attributes:
            try:
                live["rotationPolicy"] = self._data_plane(identity).read_policy(identity["name"])
            except DataPlaneRefused as refused:
                live[UNREADABLE] = {"rotationPolicy": refused.needs}
        return live

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        client = _keyvault_client(self._session, identity["subscriptionId"])
        listing = _keys_of_vault(identity["subscriptionId"], identity["resourceGroup"], identity["vault"])
        self._session.lists.forget(listing)  # a retried create must see what an earlier attempt made
        try:
            with azure_errors(f"create key {identity['vault']}/{identity['name']}"):
                key = client.keys.create_if_not_exist(
                    identity["resourceGroup"],
                    identity["vault"],
                    identity["name"],
                    key_create_parameters(attributes),
                )
        finally:
            self._session.lists.forget(listing)
        live = key_live(key.as_dict())
        _check_key_matches(identity["name"], attributes, live)
        return live

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        # The executor passes only what changed; a rotation policy is all Key Vault lets change.
        if set(attributes) - {"tags"} != {"rotationPolicy"}:
            raise ProviderError(
                f"azure_key {identity['name']}: ARM never updates an existing key (rotate it in Key Vault)",
                plane="arm",
            )
        policy = self._data_plane(identity).write_policy(identity["name"], attributes["rotationPolicy"])
        return {**live, "rotationPolicy": policy}

    def _data_plane(self, identity: Mapping[str, Any]) -> KeyVaultKeys:
        vault = vault_in_group(self._session, {"subscriptionId": identity["subscriptionId"],
                                               "resourceGroup": identity["resourceGroup"], "name": identity["vault"]})
        uri = ((vault or {}).get("properties") or {}).get("vaultUri")
        if not uri:
            raise ProviderError(f"azure_key {identity['name']}: vault {identity['vault']} has no vaultUri", plane="arm")
        return KeyVaultKeys(self._session, uri)


class DataPlaneRefused(ProviderError):
    """Key Vault refused the caller a data-plane call (403): `needs` says what would let it through."""

    def __init__(self, message: str, needs: str) -> None:
        super().__init__(message, plane=DATA_PLANE, code="Forbidden", status=403)
        self.needs = needs


def refusal_code(e: Exception) -> str:
    """Key Vault's inner error code of a 403 (ForbiddenByFirewall, ForbiddenByRbac, AccessDenied), or ''."""
    if getattr(e, "status_code", None) != 403:
        return ""
    inner = getattr(getattr(e, "error", None), "innererror", None) or {}
    code = inner.get("code") if isinstance(inner, dict) else None
    if not code:
        try:
            body = json.loads(e.response.text())  # type: ignore[attr-defined]
            code = body["error"].get("innererror", {}).get("code")
        except (AttributeError, ValueError, TypeError, KeyError):
            code = None
    return str(code or "AccessDenied")


class KeyVaultKeys:
    """One vault's keys through Key Vault's data plane (azure-keyvault-keys): rotation policies,
    which ARM's create-if-not-exist sets only when it creates the key."""

    def __init__(self, session: AzureSession, vault_uri: str) -> None:
        require_https(vault_uri, plane=DATA_PLANE)
        self._vault = (urlsplit(vault_uri).hostname or vault_uri).split(".", 1)[0]
        self._client = session.data_client(KEY_CLIENT, vault_uri, **key_client_kwargs(session.connection))

    def read_policy(self, name: str) -> dict[str, str | None]:
        what = f"read the rotation policy of key {name}"
        try:
            policy = self._client.get_key_rotation_policy(name)
        except sdk_errors() as e:
            raise self._refused(e, what, READ_POLICY_NEEDS) or translate(e, what) from e
        return policy_from_key_vault(_policy_document(policy))

    def _refused(self, e: Exception, what: str, needs: Mapping[str, str]) -> DataPlaneRefused | None:
        code = refusal_code(e)
        if not code:
            return None
        said = needs.get(code, needs["AccessDenied"]).format(vault=self._vault)
        return DataPlaneRefused(f"{what}: Key Vault refused: {said}", said)

    def write_policy(self, name: str, canonical: Mapping[str, Any]) -> dict[str, str | None]:
        from azure.keyvault.keys import KeyRotationLifetimeAction, KeyRotationPolicy

        document = policy_to_key_vault(canonical)
        actions = [KeyRotationLifetimeAction(a["action"]["type"], time_after_create=a["trigger"].get("timeAfterCreate"),
                                             time_before_expiry=a["trigger"].get("timeBeforeExpiry"))
                   for a in document["lifetimeActions"]]
        wanted = KeyRotationPolicy(lifetime_actions=actions, expires_in=canonical.get("expiresAfter"))
        what = f"update the rotation policy of key {name}"
        try:
            written = self._client.update_key_rotation_policy(name, wanted)
        except sdk_errors() as e:
            raise self._refused(e, what, WRITE_POLICY_NEEDS) or translate(e, what) from e
        return policy_from_key_vault(_policy_document(written))


def _policy_document(policy: Any) -> dict[str, Any]:
    """The SDK's KeyRotationPolicy back in wire form (what `policy_from_key_vault` reads)."""
    actions = [{"trigger": {"timeAfterCreate": a.time_after_create, "timeBeforeExpiry": a.time_before_expiry},
                "action": {"type": getattr(a.action, "value", a.action)}} for a in policy.lifetime_actions or []]
    return {"lifetimeActions": actions, "attributes": {"expiryTime": policy.expires_in}}


def key_client_kwargs(connection: Connection) -> dict[str, Any]:
    """What the data-plane client shares with the ARM clients (a transport of its own, retries, wire log).

    `verify_challenge_resource` stays on, its default: the 401 challenge's resource must be the
    vault's own domain, in every run (the emulator answers vaults under their own hosts).
    """
    kwargs: dict[str, Any] = {"retry_total": SDK_RETRY_TOTAL, "transport": client_transport(connection),
                              "api_version": KEY_VAULT_API_VERSION}
    if LOG.observed:
        kwargs["per_retry_policies"] = [wire_policy(DATA_PLANE)]
    return kwargs
