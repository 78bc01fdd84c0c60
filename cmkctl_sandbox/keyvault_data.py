"""Key Vault's data plane for keys: rotation policies and key bundles, behind a bearer challenge.

A vault is its own host, `https://NAME.vault.azure.net/`, as ARM's `vaultUri` and every key
identifier (`kid`) say: the emulator answers requests whose Host header names such a host on its
one port (its certificate names `*.vault.azure.net`), its clients reaching that port through a
host mapping (see README.md, "Key Vault's data plane").
"""

from __future__ import annotations

from typing import Any

from cmkctl_sandbox import data_access
from cmkctl_sandbox.credentials import Issued, bearer_token, token_audience, token_object_id, unverified_audience
from cmkctl_sandbox.keys import key_resource, sandbox_now
from cmkctl_sandbox.policies import checked_policy
from cmkctl_sandbox.routes import Params, Route, dispatch, route
from cmkctl_sandbox.vaults import find_vault
from cmkctl_sandbox.wire import Refusal, Reply, Request, State

# Key Vault's DNS suffix in Azure's public cloud: a vault NAME is the host NAME.vault.azure.net.
DNS_SUFFIX = ".vault.azure.net"
AUDIENCE = "https://vault.azure.net"
# The api-versions whose rotation-policy shape the sandbox answers (7.5 and later).
API_VERSIONS = ("7.5", "7.6", "2025-07-01")
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/common", resource="{AUDIENCE}"'
# What Key Vault reports for a key that was never given a policy.
DEFAULT_POLICY_ACTIONS = [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]


def vault_of(request: Request) -> str | None:
    """The vault a request's Host header names; None when it names no vault."""
    host = request.header("host").rsplit(":", 1)[0].lower() if request.header("host") else ""
    if not host.endswith(DNS_SUFFIX):
        return None
    name = host.removesuffix(DNS_SUFFIX)
    return name if name and "." not in name else None


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def _refuse(code: str, message: str) -> Refusal:
    return Refusal(_error(400, code, message))


def authenticated(request: Request, issued: Issued) -> bool:
    token = bearer_token(request.header("authorization"))
    return token_audience(token, issued.azure_signing_key) == AUDIENCE


def unauthorized(request: Request) -> Reply:
    """Key Vault's challenge: without a token, where to get one; with another audience, why not."""
    reply = _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
    found = unverified_audience(bearer_token(request.header("authorization")))
    if found and found != AUDIENCE:
        reply = _error(401, "Unauthorized", f"AKV10022: Invalid audience. Expected {AUDIENCE}, found: {found}.")
    reply.headers["WWW-Authenticate"] = CHALLENGE
    return reply


def _allowed(request: Request, state: State, params: Params, operation: tuple[str, str]) -> None:
    """Key Vault's firewall and permission checks come before it looks the key up (data_access.py)."""
    vault = find_vault(state, params["vault"])
    if vault is not None:
        caller = token_object_id(bearer_token(request.header("authorization")))
        data_access.check(state, vault, params["key"], operation, caller)


def _located(state: State, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
    vault = find_vault(state, params["vault"])
    key = None if vault is None else vault["keys"].get(params["key"].lower())
    if vault is None or key is None:
        raise Refusal(_error(404, "KeyNotFound", f"A key with (name/id) {params['key']} was not found in this key "
                                                 "vault."))
    return vault, key


def policy_document(vault: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
    policy = key.get("rotationPolicy") or {"lifetimeActions": DEFAULT_POLICY_ACTIONS, "attributes": {}}
    kid = key_resource(vault, key)["properties"]["keyUri"]
    return {"id": f"{kid}/rotationpolicy", "lifetimeActions": policy["lifetimeActions"],
            "attributes": {**policy.get("attributes", {}), **policy.get("stamps", {})}}


def get_policy(request: Request, state: State, params: Params) -> Reply:
    _allowed(request, state, params, data_access.READ_POLICY)
    vault, key = _located(state, params)
    return Reply(200, policy_document(vault, key))


def put_policy(request: Request, state: State, params: Params) -> Reply:
    _allowed(request, state, params, data_access.WRITE_POLICY)
    vault, key = _located(state, params)
    try:
        body = request.json()
    except ValueError as e:
        raise _refuse("BadParameter", f"The request body is not JSON: {e}") from e
    policy = checked_policy(body)
    stamp = int(sandbox_now(state))
    created = (key.get("rotationPolicy") or {}).get("stamps", {}).get("created", stamp)
    key["rotationPolicy"] = {**policy, "stamps": {"created": created, "updated": stamp}}
    return Reply(200, policy_document(vault, key))


def get_key(request: Request, state: State, params: Params) -> Reply:
    """A key bundle (no key material): of the version named, or, when the fragment is empty, the current one."""
    _allowed(request, state, params, data_access.READ_KEY)
    vault, key = _located(state, params)
    wanted = params.get("version", "")
    version = next((v for v in key["versions"] if v["version"] == wanted), None) if wanted else None
    if wanted and version is None:
        raise Refusal(_error(404, "KeyNotFound", f"A key with (name/id) {params['key']}/{wanted} was not found in "
                                                 "this key vault."))
    properties = key_resource(vault, key, version)["properties"]
    bundle_key = {"kid": properties["keyUriWithVersion"], "kty": key["kty"], "key_ops": key["keyOps"]}
    return Reply(200, {"key": bundle_key, "attributes": properties["attributes"], "tags": key["tags"]})


_KEY = r"^/keys/(?P<key>[^/]+)"
ROUTES: tuple[Route, ...] = (
    route(_KEY + r"/rotationpolicy", {"GET": get_policy, "PUT": put_policy}),
    # GetKey is `GET /keys/{key-name}/{key-version}`; its version "URI fragment is optional" (7.5 keys.json).
    route(_KEY + r"/(?P<version>[^/]*)", {"GET": get_key}),
)


def handle(request: Request, state: State) -> Reply:
    vault = vault_of(request)
    if vault is None:
        return _error(404, "NotFound", "No vault is named by this request's host")
    version = request.query.get("api-version", "")
    if version not in API_VERSIONS:
        return _error(400, "BadParameter", f"The specified version ({version}) is not recognized. Consider using "
                                           f"one of: {', '.join(API_VERSIONS)}.")
    return dispatch(ROUTES, request, state, extra={"vault": vault},
                    not_found=lambda r: _error(404, "NotFound", f"No route {r.path}"),
                    not_allowed=lambda r: _error(405, "MethodNotAllowed", f"{r.method} is not allowed here"))
