"""A run's start-up against the emulator (`--sandbox DIR`): start or join it, and turn what it offers
into a Connection. With `cli/sandbox.py`, the one door from cmkctl into `cmkctl_sandbox`.

What differs from a real run is injected here, and only here: the endpoints (loopback, HTTPS), the
CA to trust (the one the emulator was started with, kept in memory, or for a served emulator the
one its key's fingerprint names), the host mapping of Key Vault's vaults to its port, the
credentials it issued (a sandbox run never reads the real ones: the plug-ins' variables, AWS_*,
Azure's), and its clock. The emulator's errors leave here as cmkctl's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reconciler.core.errors import CmkError, Diagnostic, ManifestError
from reconciler.core.secrets import Secret
from reconciler.core.settings import Settings
from reconciler.manifest.model import KeySet
from reconciler.plugins import PluginTable
from reconciler.providers.base import Connection, Endpoints, HostRoute
from reconciler.providers.transport import is_loopback

if TYPE_CHECKING:
    from cmkctl_sandbox import Sandbox
    from cmkctl_sandbox.offer import Offer

# The key `cmkctl sandbox serve DIR` prints, which a run needs to join that emulator.
KEY_VARIABLE = "CMKCTL_SANDBOX_KEY"
DEFAULT_AWS_ACCOUNT = "123456789012"
VAULT_SUFFIX = ".vault.azure.net"


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


@contextmanager
def trusted_ca(pem: bytes) -> Iterator[str]:
    """The emulator's CA, as handed over in memory, in a private file of this run's own (the SDKs take a
    path): never DIR/ca.pem, which anyone who can write DIR could replace."""
    folder = tempfile.mkdtemp(prefix="cmkctl-ca-")
    try:
        path = Path(folder) / "ca.pem"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _loopback(url: str | None) -> str | None:
    if url is not None and (urlsplit(url).scheme != "https" or not is_loopback(urlsplit(url).hostname)):
        raise CmkError(f"the sandbox offers {url!r}: a sandbox run connects only to https on loopback")
    return url


def connection_of(offer: Offer, *, ca_bundle: str, plugins: PluginTable) -> Connection:
    """The Connection to the emulator that made `offer`, trusting the CA at `ca_bundle` (a copy of its own).

    The emulator offers each plug-in's plane and issues its credentials under the names the plug-in
    gives them (`Plugin.endpoint_variables`, `credential_variables`)."""
    endpoints = offer.endpoints
    address, port = offer.vault_address
    planes = {plane: str(_loopback(getattr(endpoints, plane))) for plane in plugins.endpoint_variables}
    routed = Endpoints(arm=str(_loopback(endpoints.arm)), graph=str(_loopback(endpoints.graph)),
                       aws=_loopback(endpoints.aws), ca_bundle=ca_bundle,
                       routes=(HostRoute(VAULT_SUFFIX, address, port),), planes=planes)
    issued = offer.issued
    credentials = {name: Secret(getattr(issued, name)) for name in plugins.credential_variables}
    return Connection(endpoints=routed, azure_credential=issued.azure_credential, clock=offer.clock,
                      aws_static_keys=(issued.aws_access_key_id, Secret(issued.aws_secret_access_key)),
                      credentials=credentials)


@contextmanager
def emulator_connection(key_set: KeySet, directory: Path, plugins: PluginTable,
                        settings: Settings) -> Iterator[Connection]:
    """The connection of a run against the emulator in DIR: a served one, trusted through the key it
    printed, else one started here."""
    with cmkctl_errors():
        from cmkctl_sandbox.served import join, serving

        joined = join(directory, settings.get(KEY_VARIABLE), variable=KEY_VARIABLE) if serving(directory) else None
    if joined is not None:
        _check_served_aws(key_set, directory, joined.endpoints.aws, joined.aws_account_id)
        with trusted_ca(joined.ca_pem) as ca:
            yield connection_of(joined, ca_bundle=ca, plugins=plugins)
        return
    with cmkctl_errors():
        sandbox = sandbox_for(key_set, directory, plugins).start()
    try:
        offer = sandbox.offer
        with trusted_ca(offer.ca_pem) as ca:
            yield connection_of(offer, ca_bundle=ca, plugins=plugins)
    finally:
        sandbox.stop()


def sandbox_aws_account(key_set: KeySet) -> str | None:
    """The account moto answers in for this key set; None when it has no AWS region (moto is slow to start)."""
    # An accounts file that names an AWS account is read by export, which lists that account's keys.
    uses_aws = any(region.cloud == "aws" for region in key_set.regions) or (
        key_set.accounts_only and key_set.accounts.aws_account_id is not None)
    return (key_set.accounts.aws_account_id or DEFAULT_AWS_ACCOUNT) if uses_aws else None


def sandbox_for(key_set: KeySet | None, directory: Path, plugins: PluginTable) -> Sandbox:
    """A sandbox in DIR (not started) whose new world belongs to the key set's accounts (without one: the
    defaults, AWS included)."""
    with cmkctl_errors():
        from cmkctl_sandbox import Sandbox

        if key_set is None:
            return Sandbox(directory, aws_account_id=DEFAULT_AWS_ACCOUNT)
        accounts = key_set.accounts
        planes = {name: value for plugin in plugins for name, value in plugin.emulator_accounts(key_set).items()}
        return Sandbox(directory, tenant_id=accounts.azure_tenant_id, aws_account_id=sandbox_aws_account(key_set),
                       **planes)


def _check_served_aws(key_set: KeySet, directory: Path, url: str | None, account: str | None) -> None:
    wanted = sandbox_aws_account(key_set)
    if wanted is None or (url is not None and account == wanted):
        return
    serving = f"serves AWS as account {account}" if url else "serves no AWS plane"
    raise CmkError(f"the sandbox serving {directory} {serving}; this key set needs account {wanted}. "
                   f"Stop it and start it with the manifest: cmkctl sandbox serve {directory} -f MANIFEST")
