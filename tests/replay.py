"""Responses recorded against live Azure, or published as the vendors' examples, served on loopback
HTTPS to the real providers.

A recording is read into exchanges (method, path, query, status, body); a test says which
recorded answer each request of cmkctl's gets. The recordings' hosts are rewritten to the stub's
(ARM's nextLinks point back at it). Requests nobody answered are kept, and a test asserts none.

The stub also stands for Key Vault's data plane (a vault is its own host, `NAME.vault.azure.net`,
reached through the connection's host mapping as in an emulator run), for Confluent and for Astra,
each on the same port. A data-plane request without a token is answered with Key Vault's bearer
challenge, as the service answers it, so that azure-keyvault-keys sends its request whole.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from cmkctl_sandbox.server import SandboxServer
from cmkctl_sandbox.tls import HOST, server_context
from cmkctl_sandbox.wire import Reply, Request
from reconciler.core.secrets import Secret
from reconciler.providers.base import Connection, Endpoints, HostRoute
from tests.fakeclock import FakeClock

RECORDINGS = Path(__file__).parent / "contracts" / "recordings"


class StaticToken:
    """An azure-core TokenCredential with one fixed token: the replay stub checks none."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("replay-token", 2**31)
# Hosts answers name that stand for ARM or Graph: the live ones, the recordings' sanitized one, and the
# placeholder the managed-identity examples give their nextLink ("https://serviceRoot/...").
RECORDED_HOSTS = ("https://management.azure.com", "https://graph.microsoft.com", "https://Sanitized.azure.com",
                  "https://serviceRoot")
VAULT_SUFFIX = ".vault.azure.net"
# What Key Vault answers a request without a token (Key Vault docs, "Authentication, requests and responses").
KEY_VAULT_CHALLENGE = ('Bearer authorization="https://login.microsoftonline.com/common", '
                       'resource="https://vault.azure.net"')
CONFLUENT_KEY, CONFLUENT_SECRET = Secret("REPLAYKEY"), Secret("replay-secret")


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any  # the decoded JSON body, or None


def _exchange(method: str, uri: str, status: int, text: str | None) -> Exchange:
    parts = urlsplit(uri)
    body = json.loads(text) if text and text.strip() else None
    return Exchange(method, parts.path, dict(parse_qsl(parts.query)), status, body)


def load(name: str) -> list[Exchange]:
    """A VCR cassette (YAML) or a test-proxy session (JSON) of this folder, in recorded order."""
    text = (RECORDINGS / name).read_text()
    if name.endswith(".json"):
        entries = json.loads(text)["Entries"]
        return [_exchange(e["RequestMethod"], e["RequestUri"], int(e["StatusCode"]),
                          None if e["ResponseBody"] is None else json.dumps(e["ResponseBody"])) for e in entries]
    interactions = yaml.safe_load(text)["interactions"]
    return [_exchange(i["request"]["method"], i["request"]["uri"], int(i["response"]["status"]["code"]),
                      i["response"]["body"].get("string")) for i in interactions]


def find(exchanges: list[Exchange], method: str, path_end: str, status: int = 200, index: int = 0) -> Exchange:
    """The index-th recorded exchange of `method` whose path ends with `path_end` (any case)."""
    found = [e for e in exchanges if e.method == method and e.path.lower().endswith(path_end.lower())
             and e.status == status]
    return found[index]


class ReplayDispatcher:
    """Answers each (method, path, page) with the recorded reply a test gave it."""

    def __init__(self) -> None:
        self.base = ""
        self._answers: dict[tuple[str, str, bool], tuple[int, Any, dict[str, str]]] = {}
        self.requests: list[Request] = []
        self.unanswered: list[str] = []

    def answer(self, method: str, path: str, status: int, body: Any, *, next_page: bool = False,
               headers: dict[str, str] | None = None) -> None:
        self._answers[(method, path.lower(), next_page)] = (status, body, dict(headers or {}))

    def respond(self, request: Request) -> Reply:
        self.requests.append(request)
        if request.header("host").lower().split(":")[0].endswith(VAULT_SUFFIX) and not request.header("authorization"):
            return Reply(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer "
                                         "or PoP token."}}, {"WWW-Authenticate": KEY_VAULT_CHALLENGE})
        found = self._answers.get((request.method, request.path.lower(), "$skiptoken" in request.query))
        if found is None:
            self.unanswered.append(f"{request.method} {request.path}")
            return Reply(404, {"error": {"code": "NotRecorded", "message": "no recording answers this"}})
        status, body, headers = found
        return Reply(status, self._rehosted(body), {k: self._rehosted(v) for k, v in headers.items()})

    def _rehosted(self, body: Any) -> Any:
        if body is None:
            return None
        text = json.dumps(body)
        for host in RECORDED_HOSTS:
            text = text.replace(host, self.base)
        return json.loads(text)


@contextmanager
def replaying(directory: Path) -> Iterator[tuple[ReplayDispatcher, Connection]]:
    """A loopback HTTPS stub serving a ReplayDispatcher, and a Connection pointing every plane but AWS
    at it (ARM, Graph, Key Vault's vault hosts, Astra, Confluent); stopped on exit."""
    context, bundle = server_context(directory)
    dispatcher = ReplayDispatcher()
    server = SandboxServer(HOST, context, dispatcher)  # type: ignore[arg-type]
    dispatcher.base = f"https://{HOST}:{server.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoints = Endpoints(arm=dispatcher.base, graph=dispatcher.base,
                          planes={"astra": dispatcher.base, "confluent": dispatcher.base}, ca_bundle=str(bundle),
                          routes=(HostRoute(VAULT_SUFFIX, HOST, server.port),))
    # The stub checks no credential; the providers' waits (LRO polls) pass on a fake clock.
    connection = Connection(endpoints=endpoints, azure_credential=StaticToken, clock=FakeClock(),
                            credentials={"astra_token": Secret("replay-token"), "confluent_api_key": CONFLUENT_KEY,
                                         "confluent_api_secret": CONFLUENT_SECRET})
    try:
        yield dispatcher, connection
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=10)
