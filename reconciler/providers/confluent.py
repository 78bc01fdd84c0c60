"""The Confluent Cloud API: BYOK keys (`/byok/v1/keys`) and Dedicated clusters (`/cmk/v2/clusters`).

Basic auth with a Cloud API key and secret. A BYOK key is immutable: a different Azure key is a
new BYOK key, so the key handler creates and reads, never updates, and nothing here deletes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from reconciler.core.errors import CredentialError, GrantPendingError, ProviderError
from reconciler.core.secrets import Secret
from reconciler.providers.base import Capability, Live
from reconciler.providers.cache import RunCache
from reconciler.providers.https import json_body, send, status_error
from reconciler.providers.paths import segment

PLANE = "confluent"
KEY_VARIABLE = "CONFLUENT_CLOUD_API_KEY"
SECRET_VARIABLE = "CONFLUENT_CLOUD_API_SECRET"

BYOK_KEYS = "/byok/v1/keys"
CLUSTERS = "/cmk/v2/clusters"
# The largest page either list allows.
PAGE_SIZE = 100
# A server that keeps handing out next pages must not keep us busy forever.
MAX_PAGES = 1000
# `key.kind` is the discriminator of the definition's oneOf (byok.v1.AzureKey): what a key is, whatever the
# `provider` field and filter are spelled.
AZURE_KEY_KIND = "AzureKey"

# Confluent ids are spliced into paths: cck-..., lkc-..., env-...
_ID = re.compile(r"^[a-z]{1,8}-[A-Za-z0-9]{1,64}$")


def checked_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ProviderError(f"invalid Confluent {what} id {value!r}", plane=PLANE)
    return value


def confluent_error(response: httpx.Response, what: str) -> Exception:
    """Confluent's envelope `{"errors": [{"id", "status", "code", "title", "detail", "source"}]}`."""
    entries = _error_entries(json_body(response))
    message = "; ".join(_entry_text(e) for e in entries)
    code = ",".join(str(e["code"]) for e in entries if e.get("code"))
    if response.status_code == 401:
        return CredentialError(f"{what}: Confluent Cloud rejected the API key in {KEY_VARIABLE} / "
                               f"{SECRET_VARIABLE}: {message or 'HTTP 401'}")
    if response.status_code == 403:
        hint = "the API key's principal lacks the role this call needs (OrganizationAdmin or EnvironmentAdmin)"
        message = f"{message}; {hint}" if message else hint
    return status_error(response, plane=PLANE, what=what, code=code, message=message)


def _error_entries(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _entry_text(entry: Mapping[str, Any]) -> str:
    text = str(entry.get("detail") or entry.get("title") or "")
    source = entry.get("source")
    where = (source.get("pointer") or source.get("parameter")) if isinstance(source, dict) else None
    return f"{text} (at {where})" if where else text


def next_page_token(body: Mapping[str, Any]) -> str | None:
    """The page token of `metadata.next`. The URL itself is never followed: it could name another host."""
    metadata = body.get("metadata")
    following = metadata.get("next") if isinstance(metadata, dict) else None
    if not isinstance(following, str) or not following:
        return None
    tokens = parse_qs(urlsplit(following).query).get("page_token")
    return tokens[0] if tokens else None


class ConfluentClient:
    """The Confluent Cloud API over one reused httpx client. Credentials are checked on first use."""

    def __init__(self, http: Callable[[], httpx.Client], api_key: Secret | None, api_secret: Secret | None) -> None:
        self._http = http
        self._api_key = api_key
        self._api_secret = api_secret
        # The organisation's BYOK keys and each environment's clusters, listed once per run.
        self.lists = RunCache()

    def request(self, method: str, path: str, *, what: str, json: Any = None,
                params: Mapping[str, str | int] | None = None) -> httpx.Response:
        response = send(self._http(), method, path, plane=PLANE, headers=self._headers(), json=json, params=params)
        if not response.is_success:
            raise confluent_error(response, what)
        return response

    def check_credentials(self) -> None:
        """Before a real run reads anything: a missing key pair is said once, with the fix."""
        missing = [name for name, value in ((KEY_VARIABLE, self._api_key), (SECRET_VARIABLE, self._api_secret))
                   if value is None]
        if missing:
            raise CredentialError(f"Confluent: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                                  f"set. Fix: set {KEY_VARIABLE} and {SECRET_VARIABLE} to a Cloud API key and its "
                                  "secret (OrganizationAdmin, or EnvironmentAdmin with the right to manage BYOK keys)")

    def _headers(self) -> dict[str, str]:
        if self._api_key is None or self._api_secret is None:
            raise CredentialError(f"{KEY_VARIABLE} and {SECRET_VARIABLE} must be set; the Confluent Cloud API "
                                  "needs a Cloud API key")
        pair = f"{self._api_key.reveal()}:{self._api_secret.reveal()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def pages(self, path: str, *, what: str, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following `metadata.next` by its page token."""
        token: str | None = None
        for _ in range(MAX_PAGES):
            query: dict[str, str | int] = {**params, "page_size": PAGE_SIZE}
            if token is not None:
                query["page_token"] = token
            body = json_body(self.request("GET", path, what=what, params=query))
            body = body if isinstance(body, dict) else {}
            yield from (item for item in body.get("data") or [] if isinstance(item, dict))
            following = next_page_token(body)
            if following is None or following == token:
                return
            token = following
        raise ProviderError(f"{what}: more than {MAX_PAGES} pages; giving up", plane=PLANE)

    def byok_keys(self) -> list[dict[str, Any]]:
        """The organisation's Azure BYOK keys.

        Listed unfiltered and selected here: the `provider` filter is an exact match whose spelling
        changed (AZURE, then Azure), and a filter spelled the old way lists nothing, so every plan
        would register the key again.
        """
        return self.lists.get("byok", self._azure_byok_keys)

    def _azure_byok_keys(self) -> list[dict[str, Any]]:
        listed = self.pages(BYOK_KEYS, what="list Confluent BYOK keys", params={})
        return [key for key in listed if is_azure_key(key)]

    def byok_key(self, key_id: str) -> dict[str, Any]:
        path = f"{BYOK_KEYS}/{segment(checked_id(key_id, 'BYOK key'), 'BYOK key id', plane=PLANE)}"
        return _object(self.request("GET", path, what=f"read Confluent BYOK key {key_id}"), "BYOK key")

    def create_byok_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self.request("POST", BYOK_KEYS, what="register the key with Confluent (BYOK)", json=dict(body))
        finally:
            self.lists.forget("byok")  # even a failed POST may have registered it
        return _object(response, "BYOK key")

    def clusters(self, environment: str) -> list[dict[str, Any]]:
        params = {"environment": checked_id(environment, "environment")}
        return self.lists.get(("clusters", environment), lambda: list(
            self.pages(CLUSTERS, what=f"list Kafka clusters in {environment}", params=params)))

    def create_cluster(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = self.request("POST", CLUSTERS, what="create the Dedicated Kafka cluster", json=dict(body))
        finally:
            self.forget_clusters(str(((body.get("spec") or {}).get("environment") or {}).get("id", "")))
        return _object(response, "cluster")

    def update_cluster(self, cluster_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        path = f"{CLUSTERS}/{segment(checked_id(cluster_id, 'cluster'), 'cluster id', plane=PLANE)}"
        try:
            response = self.request("PATCH", path, what=f"update Kafka cluster {cluster_id}", json=dict(body))
        finally:
            self.forget_clusters(str(((body.get("spec") or {}).get("environment") or {}).get("id", "")))
        return _object(response, "cluster")

    def forget_byok_keys(self) -> None:
        self.lists.forget("byok")

    def forget_clusters(self, environment: str) -> None:
        self.lists.forget(("clusters", environment))


def _object(response: httpx.Response, what: str) -> dict[str, Any]:
    body = json_body(response)
    if not isinstance(body, dict) or not body.get("id"):
        raise ProviderError(f"Confluent returned a {what} without an id", plane=PLANE)
    return body


# ---- BYOK keys -------------------------------------------------------------------------------


def is_azure_key(entry: Mapping[str, Any]) -> bool:
    key = entry.get("key")
    return isinstance(key, dict) and key.get("kind") == AZURE_KEY_KIND


def _same_uri(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.rstrip("/").lower() == b.rstrip("/").lower()


def registers(entry: Mapping[str, Any], identity: Mapping[str, Any]) -> bool:
    """Whether the BYOK key `entry` is the registration of the Azure key `identity` names."""
    key = entry.get("key") or {}
    return (
        isinstance(key, dict)
        and _same_uri(key.get("key_id"), identity["keyId"])
        and _same_uri(key.get("key_vault_id"), identity["keyVaultId"])
        and str(key.get("tenant_id", "")).lower() == str(identity["tenantId"]).lower()
    )


def byok_live(entry: Mapping[str, Any]) -> Live:
    key = entry.get("key") or {}
    validation = entry.get("validation") or {}
    return {
        "id": entry["id"],
        "applicationId": key.get("application_id"),
        "state": entry.get("state"),
        "validationPhase": validation.get("phase"),
        "validationMessage": validation.get("message"),
    }


def byok_body(identity: Mapping[str, Any]) -> dict[str, Any]:
    key_id = str(identity["keyId"]).rstrip("/")
    if re.search(r"/keys/[^/]+/[^/]+$", key_id):
        raise ProviderError(f"refusing to register a versioned key ID with Confluent: {key_id}", plane=PLANE)
    return {"key": {"kind": AZURE_KEY_KIND, "key_id": key_id, "key_vault_id": str(identity["keyVaultId"]),
                    "tenant_id": str(identity["tenantId"])}}


class ByokKeyHandler:
    """BYOK keys, found by the Azure key they register (Confluent ids are assigned on create)."""

    kind = "confluent_byok_key"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, client: ConfluentClient) -> None:
        self._client = client

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        # The oldest registration wins, so reruns keep agreeing on one when several exist.
        found = next((k for k in self._client.byok_keys() if registers(k, identity)), None)
        return byok_live(found) if found else None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        # POST is not idempotent: a run killed after it must not register the key twice, so look
        # afresh (the plan's list may predate an earlier attempt of this very create).
        self._client.forget_byok_keys()
        existing = self.read(identity=identity)
        if existing is not None:
            return existing
        created = self._client.create_byok_key(byok_body(identity))
        live = byok_live(created)
        if not live["applicationId"]:
            raise ProviderError("Confluent registered the key but returned no application_id", plane=PLANE)
        return live

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        raise ProviderError("a Confluent BYOK key is immutable: a different key is registered as a new BYOK key",
                            plane=PLANE)


# ---- Dedicated clusters ----------------------------------------------------------------------


def cluster_live(entry: Mapping[str, Any]) -> Live:
    spec = entry.get("spec") or {}
    config = spec.get("config") or {}
    byok = spec.get("byok") or {}
    network = spec.get("network") or {}
    live: Live = {
        "id": entry["id"],
        "cloud": spec.get("cloud"),
        "region": spec.get("region"),
        "availability": spec.get("availability"),
        "kind": config.get("kind"),
        "cku": config.get("cku"),
        # None is the Automatic encryption mode: Confluent's own key.
        "byokKeyId": byok.get("id") if isinstance(byok, dict) else None,
        "phase": (entry.get("status") or {}).get("phase"),
    }
    if isinstance(network, dict) and network.get("id"):
        live["network"] = network["id"]
    return live


def _vault_name(entry: Mapping[str, Any]) -> str:
    """The vault an Azure BYOK key is in, by its resource ID's last segment (as shown, never a path)."""
    key = entry.get("key") or {}
    vault_id = key.get("key_vault_id") if isinstance(key, dict) else None
    return str(vault_id).rstrip("/").rsplit("/", 1)[-1] if isinstance(vault_id, str) and vault_id else "?"


def cluster_body(identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "display_name": identity["displayName"],
        "availability": attributes["availability"],
        "cloud": attributes["cloud"],
        "region": attributes["region"],
        "config": {"kind": "Dedicated", "cku": attributes["cku"]},
        "environment": {"id": checked_id(identity["environmentId"], "environment")},
        "byok": {"id": checked_id(attributes["byokKeyId"], "BYOK key")},
    }
    if attributes.get("network"):
        spec["network"] = {"id": checked_id(attributes["network"], "network"),
                           "environment": identity["environmentId"]}
    return {"spec": spec}


class ClusterHandler:
    """Dedicated clusters, found by display name in the manifest's environment."""

    kind = "confluent_cluster"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, client: ConfluentClient) -> None:
        self._client = client

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        environment = self._environment(identity)
        found = [c for c in self._client.clusters(environment)
                 if (c.get("spec") or {}).get("display_name") == identity["displayName"]]
        if len(found) > 1:
            ids = ", ".join(str(c["id"]) for c in found)
            raise ProviderError(f"{len(found)} Kafka clusters are named {identity['displayName']!r} in "
                                f"{environment} ({ids}); cmkctl cannot tell which one is declared", plane=PLANE)
        return cluster_live(found[0]) if found else None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        # Before looking for the cluster: a wait's every try would list the environment's clusters again.
        self._wait_until_valid(str(attributes["byokKeyId"]))
        self._client.forget_clusters(self._environment(identity))  # look afresh: POST is not idempotent
        existing = self.read(identity=identity)
        if existing is not None:
            return existing
        return cluster_live(self._client.create_cluster(cluster_body(identity, attributes)))

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        unchangeable = sorted(set(attributes) - {"cku"})
        if unchangeable:
            raise ProviderError(f"Kafka cluster {identity['displayName']!r}: {', '.join(unchangeable)} cannot "
                                "change after creation", plane=PLANE)
        environment = self._environment(identity)
        body = {"spec": {"config": {"kind": "Dedicated", "cku": attributes["cku"]},
                         "environment": {"id": environment}}}
        return cluster_live(self._client.update_cluster(str(live["id"]), body))

    def _wait_until_valid(self, byok_key_id: str) -> None:
        """A Dedicated cluster is created only once Confluent reports its BYOK key VALID.

        Confluent's procedure creates the cluster after the role assignments, and provisions it on a
        successful validation (seed 004). Confluent validates a key again and again (byok/v1: INVALID
        is the result of the last attempt), and what INITIALIZING and INVALID wait for, once the plan's
        grants exist, is those grants reaching Key Vault: both are waited on within the grant budget,
        and when it ends the last answer carries Confluent's message. No phase at all means the API
        does not report one.
        """
        entry = self._client.byok_key(byok_key_id)
        validation = entry.get("validation") or {}
        phase, message = validation.get("phase"), validation.get("message") or ""
        if phase in (None, "VALID"):
            return
        waiting = f"the grants on vault {_vault_name(entry)} to let Confluent use BYOK key {byok_key_id}"
        if phase == "INVALID":
            raise GrantPendingError(f"Confluent reports BYOK key {byok_key_id} INVALID: {message or 'no reason given'} "
                                    "Check the vault's purge protection and RBAC, the key type and region, and both "
                                    "role assignments for Confluent's application", plane=PLANE, code="INVALID",
                                    awaiting=waiting)
        raise GrantPendingError(f"Confluent is still validating BYOK key {byok_key_id} ({phase})", plane=PLANE,
                                code=str(phase), awaiting=waiting)

    def _environment(self, identity: Mapping[str, Any]) -> str:
        return checked_id(identity["environmentId"], "environment")


def clusters_listed(client: ConfluentClient, environment: str) -> list[dict[str, Any]]:
    """The environment's Kafka clusters as the kind reads them, with their display names."""
    return [{**cluster_live(c), "name": (c.get("spec") or {}).get("display_name")}
            for c in client.clusters(environment)]


def byok_keys_listed(client: ConfluentClient) -> list[dict[str, Any]]:
    """BYOK keys as {"id", "keyId": versionless Azure key URI, "applicationId"}."""
    found = []
    for entry in client.byok_keys():
        key = entry.get("key") or {}
        if isinstance(key, dict) and key.get("key_id") and key.get("application_id"):
            found.append({"id": entry.get("id"), "keyId": str(key["key_id"]),
                          "applicationId": str(key["application_id"])})
    return found
