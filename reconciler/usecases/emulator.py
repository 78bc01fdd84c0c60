"""A run's start-up against the emulator (`--sandbox DIR`): start or join it, and turn what it offers
into a Connection. With `cli/sandbox.py`, the one door from cmkctl into `cmkctl_sandbox`.

The emulator raises its own errors; they leave here as cmkctl's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.core.errors import CmkError, Diagnostic, ManifestError
from reconciler.core.secrets import Secret
from reconciler.manifest.model import KeySet
from reconciler.providers.base import Connection, Endpoints

if TYPE_CHECKING:
    from cmkctl_sandbox import Sandbox

ASTRA_TOKEN_VARIABLE = "ASTRA_DB_APPLICATION_TOKEN"
CONFLUENT_KEY_VARIABLE = "CONFLUENT_CLOUD_API_KEY"
CONFLUENT_SECRET_VARIABLE = "CONFLUENT_CLOUD_API_SECRET"
# The sandbox's moto takes any key; the account comes from the manifest (see cmkctl_sandbox.aws).
SANDBOX_AWS_ACCESS_KEY = "AKIASANDBOXCMKCTL000"
DEFAULT_AWS_ACCOUNT = "123456789012"


@contextmanager
def cmkctl_errors() -> Iterator[None]:
    """The emulator's errors as cmkctl's: world.yaml's problems are a bad input (exit 3)."""
    from cmkctl_sandbox.errors import SandboxError, WorldError

    try:
        yield
    except WorldError as error:
        raise ManifestError([Diagnostic(file=p.file, line=None, field=p.field, summary=p.summary)
                             for p in error.problems]) from None
    except SandboxError as error:
        raise CmkError(str(error)) from None


def _secret(variable: str, default: str) -> Secret:
    import os

    return Secret(os.environ.get(variable) or default)


def endpoints_of(offered: Any) -> Endpoints:
    return Endpoints(arm=offered.arm, graph=offered.graph, astra=offered.astra, confluent=offered.confluent,
                     aws=offered.aws, ca_bundle=offered.ca_bundle)


def sandbox_connection(offered: Any) -> Connection:
    endpoints = endpoints_of(offered)
    # A real token in the environment is still never shown: the canary tests run this way.
    return Connection(endpoints=endpoints, astra_token=_secret(ASTRA_TOKEN_VARIABLE, "sandbox-token"),
                      confluent_api_key=_secret(CONFLUENT_KEY_VARIABLE, "sandbox-key"),
                      confluent_api_secret=_secret(CONFLUENT_SECRET_VARIABLE, "sandbox-secret"),
                      aws_static_keys=(SANDBOX_AWS_ACCESS_KEY, _secret("AWS_SECRET_ACCESS_KEY", "sandbox-secret"))
                      if endpoints.aws else None,
                      polling_interval=0.0, sandbox=True)


@contextmanager
def emulator_connection(key_set: KeySet, directory: Path) -> Iterator[Connection]:
    """The connection of a run against the emulator in DIR: a served one as it runs, else one started here."""
    with cmkctl_errors():
        from cmkctl_sandbox.served import running

        # A `cmkctl sandbox serve DIR` already running is used as is: a second server on its state is refused.
        served = running(directory)
    if served is not None:
        _check_served_aws(key_set, directory, served.endpoints.aws, served.aws_account_id)
        yield sandbox_connection(served.endpoints)
        return
    with cmkctl_errors():
        sandbox = sandbox_for(key_set, directory).start()
    try:
        yield sandbox_connection(sandbox.endpoints)
    finally:
        sandbox.stop()


def sandbox_aws_account(key_set: KeySet) -> str | None:
    """The account moto answers in for this key set; None when it has no AWS region (moto is slow to start)."""
    # An accounts file that names an AWS account is read by export, which lists that account's keys.
    uses_aws = any(region.cloud == "aws" for region in key_set.regions) or (
        key_set.accounts_only and key_set.accounts.aws_account_id is not None)
    return (key_set.accounts.aws_account_id or DEFAULT_AWS_ACCOUNT) if uses_aws else None


def sandbox_for(key_set: KeySet | None, directory: Path) -> Sandbox:
    """A sandbox in DIR (not started) whose new world belongs to the key set's accounts (without one: the
    defaults, AWS included)."""
    with cmkctl_errors():
        from cmkctl_sandbox import Sandbox

        if key_set is None:
            return Sandbox(directory, aws_account_id=DEFAULT_AWS_ACCOUNT)
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
