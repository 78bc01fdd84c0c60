"""Clients of a running emulator as the tests make them: the credentials it issued, the CA it was
started with, its host mapping for Key Vault's vaults."""

from __future__ import annotations

import base64
import ssl
from typing import Any

import httpx

from cmkctl_sandbox import Sandbox
from reconciler.providers.base import Connection
from reconciler.systems import PLUGINS
from reconciler.usecases.emulator import connection_of

VAULT_AUDIENCE = "https://vault.azure.net"


def connection_to(sandbox: Sandbox) -> Connection:
    """The Connection a `--sandbox` run makes to this emulator (its CA read from DIR/ca.pem here)."""
    return connection_of(sandbox.offer, ca_bundle=str(sandbox.endpoints.ca_bundle), plugins=PLUGINS)


def azure_token(sandbox: Sandbox, audience: str | None = None) -> str:
    """A token the emulator issued, for ARM (its own address) unless another audience is named."""
    token: str = sandbox.issued.azure_credential().get_token(f"{audience or sandbox.url}/.default").token
    return token


def bearer(sandbox: Sandbox, audience: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {azure_token(sandbox, audience)}"}


def astra_headers(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.issued.astra_token}"}


def confluent_headers(sandbox: Sandbox) -> dict[str, str]:
    pair = f"{sandbox.issued.confluent_api_key}:{sandbox.issued.confluent_api_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


class IssuedAuth(httpx.Auth):
    """Each request presents the credential the emulator issued for the plane its path names, unless it
    carries an Authorization header of its own (a test of a refusal)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def auth_flow(self, request: httpx.Request) -> Any:
        if "authorization" not in request.headers:
            path = request.url.path
            if path.startswith("/v2/"):
                request.headers.update(astra_headers(self._sandbox))
            elif path.startswith(("/byok/", "/cmk/")):
                request.headers.update(confluent_headers(self._sandbox))
            else:
                request.headers.update(bearer(self._sandbox))
        yield request


def trust(sandbox: Sandbox) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=sandbox.offer.ca_pem.decode())


def http_client(sandbox: Sandbox, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Client:
    """httpx on the emulator's port (ARM, Graph, Astra, Confluent), trusting its CA; without headers of
    its own, each request presents the issued credential of its plane."""
    auth = None if headers and "Authorization" in headers else IssuedAuth(sandbox)
    return httpx.Client(base_url=sandbox.url, verify=trust(sandbox), headers=headers or {}, auth=auth, **kwargs)


def vault_client(sandbox: Sandbox, vault: str, *, audience: str | None = VAULT_AUDIENCE) -> httpx.Client:
    """httpx to Key Vault's data plane of `vault`, as the host mapping reaches it: the emulator's port,
    the vault's own host in the Host header; a token for `audience` (None: no token)."""
    headers = {"Host": f"{vault}.vault.azure.net"}
    if audience is not None:
        headers.update(bearer(sandbox, audience))
    return httpx.Client(base_url=sandbox.url, verify=trust(sandbox), headers=headers)


def issue_canaries(monkeypatch: Any, issued: Any) -> list[str]:
    """Every emulator a test starts issues `issued` (canaries); returns the list into which each Azure
    token its credential hands out is put, as sent (they are JWTs signed with the canary, not it)."""
    from cmkctl_sandbox import credentials

    monkeypatch.setattr(credentials.Issued, "random", staticmethod(lambda: issued))
    sent: list[str] = []
    minted = credentials.IssuedAzureCredential.get_token

    def recording(self: Any, *scopes: str, **kwargs: Any) -> Any:
        token = minted(self, *scopes, **kwargs)
        sent.append(token.token)
        return token

    monkeypatch.setattr(credentials.IssuedAzureCredential, "get_token", recording)
    return sent
