"""One run's connection to the world: the sandbox or the real control planes, and the handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.core.clock import Clock
from reconciler.core.retry import DEFAULT_BUDGETS, PLANE_NAMES, RetryPolicy, Wait, WaitBudgets
from reconciler.core.settings import Settings
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.manifest.model import KeySet
from reconciler.plugins import PluginTable
from reconciler.providers.base import Connection, Endpoints
from reconciler.systems import PLUGINS

if TYPE_CHECKING:
    from reconciler.providers.inventory import Inventory
    from reconciler.providers.registry import Handlers

# Sovereign clouds and test doubles: each plane's endpoint can be overridden (each plug-in names its own).
CORE_ENDPOINT_VARIABLES = {
    "arm": "CMKCTL_ARM_ENDPOINT",
    "graph": "CMKCTL_GRAPH_ENDPOINT",
    "aws": "CMKCTL_AWS_ENDPOINT",
}
ENDPOINT_VARIABLES = {**CORE_ENDPOINT_VARIABLES, **PLUGINS.endpoint_variables}


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
    # What the front end read from the environment as the command began (nothing below it reads it).
    settings: Settings = field(default_factory=Settings, compare=False)


def retry_policy(options: RunOptions, clock: Clock, on_wait: Callable[[Wait], None] | None = None) -> RetryPolicy:
    """The engine's retries, the same in every run: the budgets chosen, waited on the run's clock."""
    return RetryPolicy(clock=clock, budgets=options.budgets, on_wait=on_wait or options.on_wait,
                       plane_names={**PLANE_NAMES, **options.plugins.plane_names})


def real_connection(plugins: PluginTable, settings: Settings) -> Connection:
    defaults = Endpoints()
    variables = {**CORE_ENDPOINT_VARIABLES, **plugins.endpoint_variables}
    endpoints = Endpoints(**{plane: settings.variables.get(var, getattr(defaults, plane)) for plane, var in variables.items()})
    from reconciler.providers.azure_common import default_azure_credential

    credentials: dict[str, Any] = {name: settings.secret(variable)
                                   for name, variable in plugins.credential_variables.items()}
    return Connection(endpoints=endpoints, azure_credential=default_azure_credential, **credentials)


@contextmanager
def connection(key_set: KeySet, options: RunOptions) -> Iterator[Connection]:
    if options.sandbox is None:
        yield real_connection(options.plugins, options.settings)
        return
    from reconciler.usecases.emulator import emulator_connection

    with emulator_connection(key_set, options.sandbox, options.plugins, options.settings) as conn:
        yield conn


@contextmanager
def inventory_for(key_set: KeySet, options: RunOptions) -> Iterator[Inventory]:
    from reconciler.providers.inventory import inventory

    with connection(key_set, options) as conn, inventory(conn, key_set.accounts, options.plugins) as lists:
        yield lists


@contextmanager
def run_for(key_set: KeySet, options: RunOptions) -> Iterator[tuple[Handlers, Inventory]]:
    """The handlers, and the listings that find what the key set no longer declares, on one connection
    and one set of clients: a list the plan fetched answers the unmanaged report too."""
    from reconciler.providers.inventory import shared_inventory

    with handlers_for(key_set, options) as handlers:
        yield handlers, shared_inventory(handlers, subscription_id=key_set.accounts.azure_subscription_id or "")


@contextmanager
def handlers_for(key_set: KeySet, options: RunOptions) -> Iterator[Handlers]:
    """The handlers of a run, guarded to the manifest's accounts, with the cloud SDKs warming up."""
    from reconciler.providers.registry import build_handlers

    with connection(key_set, options) as conn, build_handlers(conn, key_set.accounts, options.plugins,
                                                               variables=options.settings.variables) as handlers:
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
