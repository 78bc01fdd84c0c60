"""What a plug-in builds its handlers from, and what it hands back: the seam between the registry and
the plug-ins (`reconciler.systems`), which sit above the providers and import this module only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from reconciler.manifest.model import Accounts
from reconciler.providers.base import Connection, ResourceHandler
from reconciler.providers.cache import RunCache
from reconciler.providers.https import new_client

if TYPE_CHECKING:
    from reconciler.providers.azure_common import AzureSession


class LazyHttp:
    """An httpx client made on first use (one per plane per run) and closed with the run."""

    def __init__(self, make: Callable[[], httpx.Client]) -> None:
        self._make = make
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def plane_http(connection: Connection, plane: str, url: str) -> LazyHttp:
    """The run's httpx client for one REST plane, made on first use."""
    endpoints = connection.endpoints
    return LazyHttp(lambda: new_client(url, plane=plane, ca_bundle=endpoints.ca_bundle))


@dataclass(frozen=True)
class Plumbing:
    """What a plug-in builds its handlers from: the run's connection and its shared Azure session,
    and the accounts the manifests name (a handler refuses to act on an identity elsewhere)."""

    connection: Connection
    azure: AzureSession
    accounts: Accounts
    # The run's environment as the front end read it: the variables a manifest names for the
    # passwords a create sends (never read from the process here).
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass
class PlaneHandlers:
    """What a plug-in adds to a run: its handlers by kind, its clients by name, each of its planes'
    credential check, the caches a watch's next cycle forgets, what to close at the end of the run,
    and its listings (on the same clients, so that what the plan listed is not listed again)."""

    by_kind: dict[str, ResourceHandler] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Callable[[], None]] = field(default_factory=dict)
    caches: list[RunCache] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    # name -> a listing of what exists, for an export and the unmanaged report (`Inventory.listing`)
    listings: dict[str, Callable[..., list[Any]]] = field(default_factory=dict)


class BuildsHandlers(Protocol):
    def build_handlers(self, plumbing: Plumbing) -> PlaneHandlers: ...
