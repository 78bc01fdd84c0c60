"""One run's connection to the world: the sandbox or the real control planes, and the handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.clock import Clock
from reconciler.core.lock import Holder, Lock, held
from reconciler.core.retry import DEFAULT_BUDGETS, PLANE_NAMES, Retrying, RetryPolicy, Wait, WaitBudgets
from reconciler.core.settings import Settings
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.manifest.model import KeySet
from reconciler.plan.model import PlanContext
from reconciler.plugins import PluginTable
from reconciler.providers.base import Connection, Endpoints
from reconciler.systems import PLUGINS

if TYPE_CHECKING:
    from reconciler.engine.planner import Planner
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
    variables = settings.variables
    core = {plane: variables.get(var, getattr(defaults, plane)) for plane, var in CORE_ENDPOINT_VARIABLES.items()}
    planes = {plane: variables[var] for plane, var in plugins.endpoint_variables.items() if var in variables}
    endpoints = Endpoints(**core, planes=planes)
    from reconciler.providers.azure_common import default_azure_credential

    credentials = {name: secret for name, variable in plugins.credential_variables.items()
                   if (secret := settings.secret(variable)) is not None}
    return Connection(endpoints=endpoints, azure_credential=default_azure_credential, credentials=credentials)


def context_of(key_set: KeySet, options: RunOptions) -> PlanContext:
    """What a plan of the key set is made against: the sandbox's folder or the real planes, and the accounts."""
    accounts = {name: value for name, value in key_set.accounts.flat().items() if value}
    return PlanContext(sandbox=sandbox_of(options), accounts=accounts)


def sandbox_of(options: RunOptions) -> str | None:
    return None if options.sandbox is None else str(options.sandbox.resolve())


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


@dataclass(frozen=True)
class RunLock:
    """The key set's lock a run holds throughout (`plan --lock`), how long to wait for it, and who is told."""

    lock: Lock
    timeout: float = 0.0
    on_wait: Callable[[Holder], None] = field(default=lambda holder: None, compare=False)


@dataclass(frozen=True)
class RunContext:
    """One run of a key set, assembled once by the use case: its lock held, connected, its cloud SDKs
    warming up, its credentials checked, and the listings of the unmanaged report on the same clients
    (a list the plan fetched answers the report too). The planner is made from it."""

    key_set: KeySet
    options: RunOptions
    handlers: Handlers
    lists: Inventory | None = None  # for the unmanaged report; an apply's or a check's run reports none

    def planner(self, *, unread: dict[str, str] | None = None, unmanaged: bool = False) -> Planner:
        """The planner of this run; with `unmanaged`, it reports what the key set no longer declares."""
        from reconciler.engine.planner import Planner

        retry = retry_policy(self.options, self.handlers.clock)
        return Planner(self.handlers.by_kind, plugins=self.options.plugins, parallelism=self.options.parallelism,
                       retry=retry, unread=unread, environ=self.options.settings.variables,
                       made_against=context_of(self.key_set, self.options),
                       unmanaged=Retrying(self.lists, retry) if unmanaged and self.lists else None)


@contextmanager
def open_run(key_set: KeySet, options: RunOptions, lock: RunLock | None = None) -> Iterator[RunContext]:
    """The run's context, held open while the caller plans (and acts) on it."""
    from reconciler.providers.inventory import shared_inventory

    locked = (held(lock.lock, key_set.name, timeout=lock.timeout, on_wait=lock.on_wait) if lock is not None
              else nullcontext())
    with locked, handlers_for(key_set, options) as handlers:
        subscription = key_set.accounts.azure_subscription_id or ""
        yield RunContext(key_set, options, handlers, shared_inventory(handlers, subscription_id=subscription))


@contextmanager
def handlers_for(key_set: KeySet, options: RunOptions) -> Iterator[Handlers]:
    """The handlers of a run, guarded to the manifest's accounts, with the cloud SDKs warming up."""
    from reconciler.providers.registry import build_handlers

    with connection(key_set, options) as conn, build_handlers(conn, key_set.accounts, options.plugins,
                                                               variables=options.settings.variables) as handlers:
        handlers.warm_up(azure=any(r.cloud == "azure" for r in key_set.regions),
                         aws_regions=sorted({r.name for r in key_set.regions if r.cloud == "aws"}))
        handlers.check_credentials(credential_planes(key_set, options.plugins))
        yield handlers


def credential_planes(key_set: KeySet, plugins: PluginTable) -> set[str]:
    """The credentials a run of the key set needs: Graph's are Azure's."""
    from reconciler.engine import expand

    planes = {plugins.kinds[resource.kind].plane for resource in expand.resources(key_set, {}, plugins)}
    return {"azure" if plane in ("arm", "graph") else plane for plane in planes}

