"""One run's connection to the world: the sandbox or the real control planes, and the handlers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.core.errors import CmkError
from reconciler.core.retry import RetryPolicy
from reconciler.core.secrets import Secret
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.manifest.model import KeySet
from reconciler.providers.base import Connection, Endpoints

if TYPE_CHECKING:
    from reconciler.providers.inventory import Inventory
    from reconciler.providers.registry import Handlers
    from reconciler.sandbox import Sandbox

ASTRA_TOKEN_VARIABLE = "ASTRA_DB_APPLICATION_TOKEN"
# The sandbox's moto takes any key; the account comes from the manifest (see reconciler.sandbox.aws).
SANDBOX_AWS_ACCESS_KEY = "AKIASANDBOXCMKCTL000"
DEFAULT_AWS_ACCOUNT = "123456789012"
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


@dataclass(frozen=True)
class RunOptions:
    sandbox: Path | None = None
    parallelism: int = DEFAULT_PARALLELISM


def retry_policy(options: RunOptions) -> RetryPolicy:
    """The engine's retries: bounded backoff; against the sandbox, short waits (it throttles nobody)."""
    if options.sandbox is not None:
        # The same number of attempts as a real run (README: at most 10); only the waits are shorter.
        return RetryPolicy(base_delay=0.02, max_delay=0.5, max_total=60.0, access_max_total=20.0)
    return RetryPolicy()


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


def _sandbox_aws_keys() -> tuple[str, Secret]:
    # moto takes any secret; a real one in the environment is used (and never shown), as the canary test does.
    return SANDBOX_AWS_ACCESS_KEY, _secret("AWS_SECRET_ACCESS_KEY", "sandbox-secret") or Secret("sandbox-secret")


def sandbox_connection(endpoints: Endpoints) -> Connection:
    # A real token in the environment is still never shown: the canary tests run this way.
    return Connection(endpoints=endpoints, astra_token=_secret(ASTRA_TOKEN_VARIABLE, "sandbox-token"),
                      confluent_api_key=_secret(CONFLUENT_KEY_VARIABLE, "sandbox-key"),
                      confluent_api_secret=_secret(CONFLUENT_SECRET_VARIABLE, "sandbox-secret"),
                      aws_static_keys=_sandbox_aws_keys() if endpoints.aws else None,
                      polling_interval=0.0, sandbox=True)


@contextmanager
def connection(key_set: KeySet, options: RunOptions) -> Iterator[Connection]:
    if options.sandbox is None:
        yield real_connection()
        return
    from reconciler.sandbox.served import running

    # A `cmkctl sandbox serve DIR` already running is used as is: a second server on its state is refused.
    served = running(options.sandbox)
    if served is not None:
        _check_served_aws(key_set, options.sandbox, served.endpoints.aws, served.aws_account_id)
        yield sandbox_connection(served.endpoints)
        return
    with sandbox_for(key_set, options.sandbox) as sandbox:
        yield sandbox_connection(sandbox.endpoints)


def sandbox_aws_account(key_set: KeySet) -> str | None:
    """The account moto answers in for this key set; None when it has no AWS region (moto is slow to start)."""
    # An accounts file that names an AWS account is read by export, which lists that account's keys.
    uses_aws = any(region.cloud == "aws" for region in key_set.regions) or (
        key_set.accounts_only and key_set.accounts.aws_account_id is not None)
    return (key_set.accounts.aws_account_id or DEFAULT_AWS_ACCOUNT) if uses_aws else None


def sandbox_for(key_set: KeySet, directory: Path) -> Sandbox:
    """A sandbox in DIR (not started) whose new world belongs to the key set's accounts."""
    from reconciler.sandbox import Sandbox

    accounts = key_set.accounts
    return Sandbox(directory, tenant_id=accounts.azure_tenant_id, organization_id=accounts.astra_organization_id,
                   aws_account_id=sandbox_aws_account(key_set))


def _check_served_aws(key_set: KeySet, directory: Path, url: str | None, account: str | None) -> None:
    wanted = sandbox_aws_account(key_set)
    if wanted is None or (url is not None and account == wanted):
        return
    serving = f"serves AWS as account {account}" if url else "serves no AWS plane"
    raise CmkError(f"the sandbox serving {directory} {serving}; this key set needs account {wanted}. "
                   f"Stop it and start it with the manifest: cmkctl sandbox serve {directory} -f MANIFEST")


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
        if not conn.sandbox:  # the sandbox's credentials are cmkctl's own, always there
            handlers.check_credentials(credential_planes(key_set))
        yield handlers


def credential_planes(key_set: KeySet) -> set[str]:
    """The credentials a run of the key set needs: Graph's are Azure's."""
    from reconciler.engine import expand
    from reconciler.systems import KINDS

    planes = {KINDS[resource.kind].plane for resource in expand.resources(key_set, {})}
    return {"azure" if plane in ("arm", "graph") else plane for plane in planes}


def _warm_up(handlers: Handlers, key_set: KeySet) -> None:
    handlers.warm_up(azure=any(r.cloud == "azure" for r in key_set.regions),
                     aws_regions=sorted({r.name for r in key_set.regions if r.cloud == "aws"}))
