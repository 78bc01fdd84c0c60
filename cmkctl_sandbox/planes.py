"""Which plane serves which request, and whether it carries that plane's credentials.

ARM, Graph, Astra and Confluent share the emulator's one port and are told apart by path. Key
Vault's data plane is told apart by host, as in Azure, where each vault is its own host
(`https://NAME.vault.azure.net/`): its clients reach the emulator's port through a host mapping
and name the vault in the Host header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cmkctl_sandbox import arm, astra, confluent, graph, keyvault_data
from cmkctl_sandbox.credentials import Issued, basic_credentials, bearer_token, same_secret, token_audience
from cmkctl_sandbox.wire import Reply, Request, State

# The audiences each Azure plane accepts besides its own address: what a client asking for a token
# for the public cloud's endpoint puts in `aud` (Entra ID's resource identifiers for ARM and Graph).
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
GRAPH_AUDIENCES = ("https://graph.microsoft.com",)


def _azure_audience(*accepted: str) -> Callable[[Request, Issued], bool]:
    def check(request: Request, issued: Issued) -> bool:
        audience = token_audience(bearer_token(request.header("authorization")), issued.azure_signing_key)
        own = f"https://{request.header('host')}".rstrip("/")
        return audience is not None and audience.lower() in {own.lower(), *accepted}

    return check


def _astra_token(request: Request, issued: Issued) -> bool:
    token = bearer_token(request.header("authorization"))
    return bool(token) and same_secret(token, issued.astra_token)


def _confluent_key(request: Request, issued: Issued) -> bool:
    given = basic_credentials(request.header("authorization"))
    return given is not None and same_secret(given[0], issued.confluent_api_key) and \
        same_secret(given[1], issued.confluent_api_secret)


@dataclass(frozen=True)
class Plane:
    name: str
    prefixes: tuple[str, ...]
    handle: Callable[[Request, State], Reply]
    unauthorized: Callable[[Request], Reply]
    # Whether the request carries this plane's credentials, as the emulator issued them.
    authenticated: Callable[[Request, Issued], bool]


PLANES: tuple[Plane, ...] = (
    Plane("arm", ("/subscriptions/", "/providers/"), arm.handle, arm.unauthorized, _azure_audience(*ARM_AUDIENCES)),
    Plane("graph", ("/v1.0/",), graph.handle, graph.unauthorized, _azure_audience(*GRAPH_AUDIENCES)),
    Plane("astra", ("/v2/",), astra.handle, astra.unauthorized, _astra_token),
    Plane("confluent", ("/byok/v1/", "/cmk/v2/"), confluent.handle, confluent.unauthorized, _confluent_key),
)
KEY_VAULT = Plane("keyvault", (), keyvault_data.handle, keyvault_data.unauthorized, keyvault_data.authenticated)


def plane_for(request: Request) -> Plane | None:
    if keyvault_data.vault_of(request) is not None:
        return KEY_VAULT
    lowered = request.path.lower()
    return next((p for p in PLANES if any(lowered.startswith(x.lower()) for x in p.prefixes)), None)
