"""Microsoft Graph service principals, with httpx and the run's Azure credential."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from reconciler.core.errors import CredentialError, ProviderError, TransientError
from reconciler.providers.azure_common import AzureSession
from reconciler.providers.base import Capability, Live
from reconciler.providers.cache import RunCache
from reconciler.providers.https import json_body, send, status_error

PLANE = "graph"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class GraphClient:
    """Graph v1.0 over one reused httpx client; the token comes from the Azure credential."""

    def __init__(self, http: Callable[[], httpx.Client], session: AzureSession, *, base_url: str) -> None:
        self._http = http
        self._session = session
        # Sovereign clouds have their own Graph; the token must be for the one called.
        self._scope = base_url.rstrip("/") + "/.default"

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, str] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token()}"}
        return send(self._http(), method, f"/v1.0{path}", plane=PLANE, headers=headers, json=json, params=params)

    def _token(self) -> str:
        credential = self._session.credential()  # first: it loads the azure SDKs safely
        from azure.core.exceptions import ClientAuthenticationError

        try:
            token: str = credential.get_token(self._scope).token
        except ClientAuthenticationError as e:
            raise CredentialError(f"Azure credential cannot get a Microsoft Graph token: {type(e).__name__}") from e
        return token


def graph_error(response: httpx.Response, what: str) -> Exception:
    """Graph's OData envelope `{"error": {"code", "message"}}` as a `reconciler.core.errors` type."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    if response.status_code == 401:
        return CredentialError(f"{what}: Microsoft Graph rejected the Azure credential ({code or 401})")
    return status_error(response, plane=PLANE, what=what, code=code, message=message)


def principal_live(body: Any) -> Live:
    if not isinstance(body, dict) or "id" not in body:
        raise ProviderError("Microsoft Graph returned a service principal without an id", plane=PLANE)
    return {"appId": body.get("appId"), "objectId": body["id"]}


def _app_id(identity: Mapping[str, Any]) -> str:
    """The appId, checked: it is spliced into the request path."""
    app_id = identity["appId"]
    if not isinstance(app_id, str) or not _GUID.match(app_id):
        raise ProviderError(f"azuread_service_principal: appId {app_id!r} is not a GUID", plane=PLANE)
    return app_id


# Graph refuses more than 15 expressions in one `in` clause.
IN_CLAUSE_LIMIT = 15


def app_id_filter(app_ids: Sequence[str]) -> str:
    return "appId in (" + ",".join(f"'{a}'" for a in app_ids) + ")"


class ServicePrincipalHandler:
    """Service principals by appId. `prefetch` looks up 15 at a time (`$filter=appId in (...)`);
    a read answered by a look-up this run costs no call, and a create records what it made."""

    kind = "azuread_service_principal"
    capabilities: frozenset[Capability] = frozenset({Capability.BATCH_READ, Capability.FORGETS_READS})
    # The refresh holds ready reads of this kind until this many can be looked up together.
    prefetch_batch = IN_CLAUSE_LIMIT

    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph
        self._found = RunCache()

    def forget_all(self) -> None:
        self._found.forget_all()

    def prefetch(self, *, identities: Sequence[Mapping[str, Any]]) -> None:
        wanted = sorted(a for a in {_app_id(i).lower() for i in identities} if not self._found.peek(a)[0])
        for start in range(0, len(wanted), IN_CLAUSE_LIMIT):
            self._look_up(wanted[start:start + IN_CLAUSE_LIMIT])

    def _look_up(self, app_ids: Sequence[str]) -> None:
        what = f"look up {len(app_ids)} service principals"
        response = self._graph.request("GET", "/servicePrincipals", params={"$filter": app_id_filter(app_ids)})
        if response.status_code != 200:
            raise graph_error(response, what)
        body = json_body(response)
        entries = body.get("value") if isinstance(body, dict) else None
        found = {str(e.get("appId", "")).lower(): principal_live(e) for e in entries or [] if isinstance(e, dict)}
        for app_id in app_ids:
            self._found.put(app_id, found.get(app_id))  # None: looked up, and absent

    def read(self, *, identity: Mapping[str, Any]) -> Live | None:
        app_id = _app_id(identity)
        cached, live = self._found.peek(app_id.lower())
        if cached:
            return dict(live) if live is not None else None
        what = f"read service principal for app {app_id}"
        response = self._graph.request("GET", f"/servicePrincipals(appId='{app_id}')")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise graph_error(response, what)
        return principal_live(json_body(response))

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> Live:
        app_id = _app_id(identity)
        what = f"create service principal for app {app_id}"
        self._found.forget(app_id.lower())  # a retried create, or the 409 path, must read afresh
        response = self._graph.request("POST", "/servicePrincipals", json={"appId": app_id})
        if response.status_code == 409:
            # Already there (created by hand, or by a run that crashed before recording it).
            return self._existing(identity, what)
        if not response.is_success:
            raise graph_error(response, what)
        return principal_live(json_body(response))

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any], live: Mapping[str, Any]) -> Live:
        raise ProviderError("azuread_service_principal has no attributes to update", plane=PLANE)

    def _existing(self, identity: Mapping[str, Any], what: str) -> Live:
        existing = self.read(identity=identity)
        if existing is None:
            raise TransientError(f"{what}: Graph says it exists but cannot find it yet", plane=PLANE, status=409)
        return existing
