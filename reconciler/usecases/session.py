"""One run's connection to the world: the sandbox or the real control planes, and the handlers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.clock import Clock
from reconciler.core.retry import DEFAULT_BUDGETS, RetryPolicy, Wait, WaitBudgets
from reconciler.core.secrets import Secret
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.manifest.model import KeySet
from reconciler.plugins import PluginTable
from reconciler.providers.base import Connection, Endpoints
from reconciler.systems import PLUGINS

if TYPE_CHECKING:
    from reconciler.providers.inventory import Inventory
    from reconciler.providers.registry import Handlers

ASTRA_TOKEN_VARIABLE = "ASTRA_DB_APPLICATION_TOKEN"
CONFLUENT_KEY_VARIABLE = "CONFLUENT_CLOUD_API_KEY"
CONFLUENT_SECRET_VARIABLE = "CONFLUENT_CLOUD_API_SECRET"
# Sovereign clouds and test doubles: each plane's endpoint can be overridden.
ENDPOINT_VARIABLES = {
    "arm": "CMKCTL_ARM_ENDPOINT",
    "graph": "CMKCTL_GRAPH_ENDPOINT",
    "astra": "CMKCTL_ASTRA_ENDPOINT",
    "confluent": "CMKCTL_CONFLUENT_ENDPOINT",
    "aws": "CMKCTL_AWS_ENDPOINT",
}


def _silent(wait: Wait) -> None:
    pass


@dataclass(frozen=True)
class RunOptions:
    sandbox: Path | None = None
    parallelism: int = DEFAULT_PARALLELISM
    # How long each kind of wait may last (--wait KIND=DURATION).
    budgets: WaitBudgets = DEFAULT_BUDGETS
    # Told of each wait a read or a step is about to make (the front end shows what is awaited).
    on_wait: Callable[[Wait], None] = field(default=_silent, compare=False)
    # The plug-ins the run works with, handed down to the engine (this module is the use cases'
    # composition root: the one place below the front end that names the table).
    plugins: PluginTable = field(default=PLUGINS, compare=False)


def retry_policy(options: RunOptions, clock: Clock, on_wait: Callable[[Wait], None] | None = None) -> RetryPolicy:
    """The engine's retries, the same in every run: the budgets chosen, waited on the run's clock."""
    return RetryPolicy(clock=clock, budgets=options.budgets, on_wait=on_wait or options.on_wait)


def _secret(variable: str, default: str | None = None) -> Secret | None:
    value = os.environ.get(variable) or default
    return Secret(value) if value else None


def real_connection() -> Connection:
    defaults = Endpoints()
    endpoints = Endpoints(**{plane: os.environ.get(var, getattr(defaults, plane))
                             for plane, var in ENDPOINT_VARIABLES.items()})
    from reconciler.providers.azure_common import default_azure_credential

    return Connection(endpoints=endpoints, astra_token=_secret(ASTRA_TOKEN_VARIABLE),
                      confluent_api_key=_secret(CONFLUENT_KEY_VARIABLE),
                      confluent_api_secret=_secret(CONFLUENT_SECRET_VARIABLE),
                      azure_credential=default_azure_credential)


@contextmanager
def connection(key_set: KeySet, options: RunOptions) -> Iterator[Connection]:
    if options.sandbox is None:
        yield real_connection()
        return
    from reconciler.usecases.emulator import emulator_connection

    with emulator_connection(key_set, options.sandbox) as conn:
        yield conn


@contextmanager
def inventory_for(key_set: KeySet, options: RunOptions) -> Iterator[Inventory]:
    from reconciler.providers.inventory import inventory

    with connection(key_set, options) as conn, inventory(
        conn, subscription_id=key_set.accounts.azure_subscription_id or "",
        aws_account_id=key_set.accounts.aws_account_id,
    ) as lists:
        yield lists


@contextmanager
def run_for(key_set: KeySet, options: RunOptions) -> Iterator[tuple[Handlers, Inventory]]:
    """The handlers, and the listings that find what the key set no longer declares, on one connection
    and one set of clients: a list the plan fetched answers the unmanaged report too."""
    from reconciler.providers.inventory import shared_inventory

    with handlers_for(key_set, options) as handlers:
        yield handlers, shared_inventory(handlers.clients, subscription_id=key_set.accounts.azure_subscription_id or "")


@contextmanager
def handlers_for(key_set: KeySet, options: RunOptions) -> Iterator[Handlers]:
    """The handlers of a run, guarded to the manifest's accounts, with the cloud SDKs warming up."""
    from reconciler.providers.registry import build_handlers

    with connection(key_set, options) as conn, build_handlers(
        conn,
        subscription_id=key_set.accounts.azure_subscription_id,
        organization_id=key_set.accounts.astra_organization_id,
        aws_account_id=key_set.accounts.aws_account_id,
    ) as handlers:
        _warm_up(handlers, key_set)
        handlers.check_credentials(credential_planes(key_set, options.plugins))
        yield handlers


def credential_planes(key_set: KeySet, plugins: PluginTable) -> set[str]:
    """The credentials a run of the key set needs: Graph's are Azure's."""
    from reconciler.engine import expand

    planes = {plugins.kinds[resource.kind].plane for resource in expand.resources(key_set, {}, plugins)}
    return {"azure" if plane in ("arm", "graph") else plane for plane in planes}


def _warm_up(handlers: Handlers, key_set: KeySet) -> None:
    handlers.warm_up(azure=any(r.cloud == "azure" for r in key_set.regions),
                     aws_regions=sorted({r.name for r in key_set.regions if r.cloud == "aws"}))
