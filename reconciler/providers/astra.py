"""The Astra DevOps API: provider accounts, key registrations, and the databases a key won't cover."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from reconciler.core.errors import CredentialError, GuardError, ProviderError
from reconciler.core.secrets import Secret
from reconciler.providers.azure_common import normalize_uri
from reconciler.providers.base import Capability, Live
from reconciler.providers.cache import RunCache
from reconciler.providers.https import json_body, send, status_error
from reconciler.providers.paths import segment

PLANE = "astra"
TOKEN_VARIABLE = "ASTRA_DB_APPLICATION_TOKEN"

CLOUDS = ("azure", "aws", "gcp")
# Serverless keys live under /v2/kms, Managed Clusters ("classic") keys under /v2/kms/classic.
KMS_ROOT = {"serverless": "/v2/kms", "managed-clusters": "/v2/kms/classic"}

# The largest page GET /v2/databases allows.
DATABASE_PAGE = 100

_REGION = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# .../keys/NAME/VERSION: Astra would then use that one version forever.
_VERSIONED_AZURE_KEY = re.compile(r"/keys/[^/]+/[^/]+/?$")


def kms_root(product: str) -> str:
    try:
        return KMS_ROOT[product]
    except KeyError:
        raise ProviderError(f"unknown Astra product {product!r} (serverless | managed-clusters)", plane=PLANE) from None


def checked_cloud(cloud: str) -> str:
    if cloud.lower() not in CLOUDS:
        raise ProviderError(f"unknown cloud {cloud!r} (azure | aws | gcp)", plane=PLANE)
    return cloud.lower()


def checked_region(region: str) -> str:
    """Regions are spliced into paths; refuse anything that is not a plain region name."""
    if not _REGION.match(region):
        raise ProviderError(f"invalid region {region!r}", plane=PLANE)
    return region


def astra_error(response: httpx.Response, what: str) -> Exception:
    """Astra's envelope `{"errors": [{"ID", "message"}]}`, every message kept."""
    body = json_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    entries = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    message = "; ".join(str(e.get("message", "")) for e in entries)
    code = ",".join(str(e["ID"]) for e in entries if "ID" in e)
    if response.status_code == 401:
        return CredentialError(f"{what}: Astra rejected the token in {TOKEN_VARIABLE}: {message or 'HTTP 401'}")
    if response.status_code == 403:
        hint = "the token lacks the org-cmk-read / org-cmk-write permissions or is for another organization"
        message = f"{message}; {hint}" if message else hint
    return status_error(response, plane=PLANE, what=what, code=code, message=message)


def _field(entry: Mapping[str, Any], pascal: str, camel: str) -> Any:
    """Astra's list answers use PascalCase in the spec; accept camelCase too."""
    return entry.get(pascal, entry.get(camel))


def normal_registration(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry of Astra's list, its Azure key identifier in the form ARM's are compared in.

    Only a support ticket changes a registered key, so a cosmetic difference in Astra's answer (a
    trailing slash, `:443`, the host's or the scheme's case) must not read as another key: every plan
    would be forbidden. AWS key ARNs are compared exactly, as AWS compares them (case-sensitive).
    """
    found = dict(entry)
    if str(_field(entry, "CloudProvider", "cloudProvider") or "").lower() == "azure":
        for name in ("KeyID", "keyId"):
            if isinstance(found.get(name), str):
                found[name] = normalize_uri(found[name])
    return found


def registration_body(org: str, cloud: str, region: str, key_id: str) -> dict[str, Any]:
    """The POST body. Azure's field is `keyIdentifier`, as in the vendor's Azure procedure."""
    if cloud == "azure":
        return {"orgId": org, "azure": {"keyIdentifier": key_id, "region": region}}
    return {"orgId": org, cloud: {"keyID": key_id, "region": region}}


def in_region(database: Mapping[str, Any], cloud: str, region: str) -> bool:
    """Whether the database, or one of its datacenters, runs in `cloud`/`region`.

    A place without a cloudProvider counts: a warning too many beats a database silently left out.
    """
    info: Mapping[str, Any] = database.get("info") or {}
    places = [info, *(dc for dc in info.get("datacenters") or [] if isinstance(dc, dict))]
    return any(_is_place(place, cloud, region) for place in places)


def _is_place(place: Mapping[str, Any], cloud: str, region: str) -> bool:
    provider = str(place.get("cloudProvider") or cloud)
    return provider.lower() == cloud and str(place.get("region", "")).lower() == region.lower()


class AstraClient:
    """The DevOps API over one reused httpx client. The token is checked on first use only."""

    def __init__(self, http: Callable[[], httpx.Client], token: Secret | None) -> None:
        self._http = http
        # The registrations of each product, listed once per run (the plan's reads and the
        # unmanaged report share them) and forgotten by every registration.
        self.lists = RunCache()
        self._token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        response = send(self._http(), method, path, plane=PLANE, headers=self._headers(), json=json, params=params)
        if not response.is_success:
            raise astra_error(response, what)
        return response

    def check_credentials(self) -> None:
        """Before a real run reads anything: a missing token is said once, with the fix."""
        if self._token is None:
            raise CredentialError(f"Astra: {TOKEN_VARIABLE} is not set. Fix: set it to an Astra application "
                                  "token whose role grants org-cmk-read (plan) and org-cmk-write (apply)")

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            raise CredentialError(f"{TOKEN_VARIABLE} is not set; the Astra DevOps API needs an application token")
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def provider_ids(self, product: str, cloud: str, region: str) -> list[str]:
        cloud, region = segment(checked_cloud(cloud), "cloud", plane=PLANE), segment(checked_region(region), "region",
                                                                                         plane=PLANE)
        path = f"{kms_root(product)}/provider/{cloud}/region/{region}/accounts"
        body = json_body(self.request("GET", path, what=f"list Astra {product} provider accounts in {region}"))
        accounts = body if isinstance(body, list) else []
        return [str(a["provider_id"]) for a in accounts if isinstance(a, dict) and a.get("provider_id")]

    def registrations(self, product: str) -> list[dict[str, Any]]:
        return self.lists.get(product, lambda: self._list_registrations(product))

    def _list_registrations(self, product: str) -> list[dict[str, Any]]:
        body = json_body(self.request("GET", kms_root(product), what=f"list Astra {product} keys"))
        return [normal_registration(e) for e in body or [] if isinstance(e, dict)] if isinstance(body, list) else []

    def register(self, product: str, body: Mapping[str, Any]) -> None:
        # Any 2xx is success: the spec says 200, the live service answers 201, neither with a body.
        try:
            self.request("POST", kms_root(product), what=f"register the key with Astra {product}", json=dict(body))
        finally:
            # Even a failed POST may have registered the key (a dropped connection): list afresh.
            self.lists.forget(product)

    def databases(self, cloud: str, region: str) -> list[dict[str, Any]]:
        """Non-terminated databases in `cloud`/`region`: they keep their key whatever is registered.

        Listed without a `provider` filter and selected here: Astra's published definitions spell
        the filter's Azure value differently (Azure, AZURE), and a filter that matches nothing
        would silently drop the warning.
        """
        cloud = checked_cloud(cloud)
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self._database_page(after)
            found.extend(db for db in page if in_region(db, cloud, region))
            last = str(page[-1].get("id", "")) if page else ""
            # A short page is the last; a server ignoring `starting_after` must not loop forever.
            if len(page) < DATABASE_PAGE or not last or last == after:
                return found
            after = last

    def _database_page(self, after: str | None) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"include": "nonterminated", "limit": DATABASE_PAGE}
        if after is not None:
            params["starting_after"] = after
        body = json_body(self.request("GET", "/v2/databases", what="list Astra databases", params=params))
        return [db for db in body if isinstance(db, dict)] if isinstance(body, list) else []


class ProviderAccountsHandler:
    kind = "astra_provider_accounts"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, client: AstraClient) -> None:
        self._client = client

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        ids = self._client.provider_ids(identity["product"], identity["cloud"], identity["region"])
        return {"providerIds": ids}

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        raise ProviderError("astra_provider_accounts is a lookup; Astra assigns provider accounts", plane=PLANE)

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        raise ProviderError("astra_provider_accounts is a lookup; Astra assigns provider accounts", plane=PLANE)


class RegistrationHandler:
    """Key registrations, read from the org's list (fetched once per product per run)."""

    kind = "astra_registration"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, client: AstraClient, *, organization_id: str | None) -> None:
        self._client = client
        self._organization_id = organization_id

    def databases(self, cloud: str, region: str) -> list[dict[str, Any]]:
        """The organization's databases in `cloud`/`region` (a plan's notice on a new registration)."""
        return self._client.databases(cloud, region)

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        cloud, region = checked_cloud(identity["cloud"]), identity["region"].lower()
        # The list is the token's organization's: no filter on the org ID, whose spelling in the
        # answer ("organizations/...") is not pinned down by the spec.
        for entry in self._client.registrations(identity["product"]):
            entry_cloud = str(_field(entry, "CloudProvider", "cloudProvider") or "").lower()
            entry_region = str(_field(entry, "Region", "region") or "").lower()
            if entry_cloud == cloud and entry_region == region:
                return {"keyId": _field(entry, "KeyID", "keyId")}
        return None

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        product, cloud = identity["product"], checked_cloud(identity["cloud"])
        region, key_id = checked_region(identity["region"]), str(attributes["keyId"])
        if cloud == "azure" and _VERSIONED_AZURE_KEY.search(key_id):
            raise ProviderError(f"refusing to register a versioned key ID with Astra: {key_id}", plane=PLANE)
        self._client.register(product, registration_body(self._organization(identity), cloud, region, key_id))
        return {"keyId": key_id}

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        raise ProviderError(
            "Astra keeps one key per provider and region; replacing it takes a support ticket", plane=PLANE
        )

    def _organization(self, identity: Mapping[str, Any]) -> str:
        org = str(identity["organizationId"])
        expected = self._organization_id
        if expected is not None and org.lower() != expected.lower():
            raise GuardError(f"refusing to register in Astra organization {org}: the manifest has {expected}")
        return org
