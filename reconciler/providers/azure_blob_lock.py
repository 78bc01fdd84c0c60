"""A lock shared by many machines on Azure Blob Storage: a blob lease, with the holder in the blob's metadata.

One blob per key set (default `cmkctl/KEY_SET.lock`) in an existing container. The lease is the
mutex: only one client at a time gets it. The metadata is the lock's record: who holds it. A lease
lasts at most 60 s (or forever), so the holder takes a 60 s lease and a background renewer renews
it every 20 s while the run lasts; a clean release clears the metadata, then the lease.

A holder killed without releasing leaves its lease, which lapses within a minute, and its record,
which does not: a later run gets the lease, finds the record, lets the lease go and is refused,
naming the dead holder, exactly as for the DynamoDB lock. `cmkctl lock break --id` is what removes
the record (and breaks the lease at once, if it is still live): the only way past a dead holder.

Credentials: `AZURE_STORAGE_CONNECTION_STRING` when set (Azurite's development account, or an
account key), which must name the manifest's account; else DefaultAzureCredential, which needs
"Storage Blob Data Contributor" on the container.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from reconciler.core.clock import SYSTEM_CLOCK
from reconciler.core.errors import CredentialError
from reconciler.core.lock import UNKNOWN_HOLDER, Holder, LockError, break_advice, holder_to_break
from reconciler.core.wirelog import LOG as WIRE
from reconciler.providers.paths import segment
from reconciler.providers.transport import azure_transport, refuse_plain_http

PLANE = "storage"
CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"
# A storage account name: 3 to 24 lowercase letters and digits (the manifest's lock.azureBlob.account
# checks the same); it becomes the host name the lock's credential is sent to.
ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
LEASE_SECONDS = 60  # the longest finite lease Blob Storage grants
RENEW_EVERY = 20.0  # two renewals may fail (a network blip) before the lease lapses
FIELDS = ("who", "host", "pid", "since", "id", "key_set")
LOG = logging.getLogger("cmkctl.lock")

# Waits up to `seconds` for `stopped`; True once stopped. Injected by tests to run a long apply in no time.
Pause = Callable[[threading.Event, float], bool]


def real_pause(stopped: threading.Event, seconds: float) -> bool:
    return stopped.wait(seconds)


def default_blob(key_set: str) -> str:
    return f"cmkctl/{key_set}.lock"


class LeaseLost(LockError):
    """The lease was broken (by `lock break`) or taken by another client: this run no longer holds the lock."""


class Renewer:
    """Renews a lease every `every` seconds until stopped, in a daemon thread."""

    def __init__(self, renew: Callable[[], None], *, every: float = RENEW_EVERY, pause: Pause = real_pause) -> None:
        self._renew, self._every, self._pause = renew, every, pause
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cmkctl-lease-renewer", daemon=True)
        self.renewals = 0
        self.lost: LeaseLost | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._pause(self._stopped, self._every):
            try:
                self._renew()
            except LeaseLost as error:
                self.lost = error
                LOG.warning("%s; another run may change the key set alongside this one", error)
                return
            except Exception as error:  # transient: the lease outlives two missed renewals
                LOG.warning("renewing the lock's lease failed, trying again in %gs: %s", self._every, error)
            else:
                self.renewals += 1


class BlobLeaseLock:
    def __init__(self, account: str, container: str, blob: str | None, key_set: str, *,
                 connection_string: str | None = None, break_flags: str = "", pause: Pause = real_pause) -> None:
        if not ACCOUNT_NAME.match(account):
            raise LockError(f"{account!r} is not a storage account name (3 to 24 lowercase letters and digits); "
                            "the lock's credential would be sent to a host it names")
        self.account, self.container, self.key_set = account, container, key_set
        self.blob = blob or default_blob(key_set)
        # The SDK encodes the names but keeps '/' and dots: a '..' segment would lease a blob elsewhere.
        for part in (container, *self.blob.split("/")):
            segment(part, "lock blob or container name", plane=PLANE)
        self.where = f"blob {self.container}/{self.blob} in storage account {account}"
        self.break_flags = break_flags  # the flags that chose this lock, which `lock break` needs too
        # The front end's settings hold it (AZURE_STORAGE_CONNECTION_STRING); without it, DefaultAzureCredential.
        self._connection_string = connection_string
        self._pause = pause
        self._client: Any = None
        self._lease: Any = None
        self.renewer: Renewer | None = None

    def advice(self, holder: Holder) -> str:
        return break_advice(holder, self.break_flags)

    def try_acquire(self, holder: Holder) -> Holder | None:
        self._ensure_blob()
        lease = self._acquire_lease()
        if lease is None:
            return self.holder() or UNKNOWN_HOLDER
        recorded = self._recorded(lease)
        if recorded is not None:  # its holder died without releasing; its lease lapsed, its record did not
            self._call(lease.release, "letting the lease go")
            return recorded
        self._call(lambda: self._blob().set_blob_metadata(_metadata(holder), lease=lease), "recording the holder")
        self._lease = lease
        self.renewer = Renewer(self._renew, pause=self._pause)
        self.renewer.start()
        return None

    def release(self, holder: Holder) -> None:
        if self._lease is None:
            return
        lease, self._lease = self._lease, None
        renewer, self.renewer = self.renewer, None
        if renewer is not None:
            renewer.stop()
        try:
            self._blob().set_blob_metadata({}, lease=lease)
            lease.release()
        except Exception as error:
            if not _error_code(error).startswith("Lease"):  # broken meanwhile: the record is not ours any more
                raise _translate(error, f"releasing the lock in {self.where}") from None

    def holder(self) -> Holder | None:
        properties = self._call(lambda: self._blob().get_blob_properties(), "reading the lock", missing_ok=True)
        return _holder(properties.metadata) if properties is not None else None

    def break_lock(self, lock_id: str | None) -> Holder | None:
        """Remove the record (only if its id is `lock_id`, when given); returns whom it was held for."""
        current = holder_to_break(self.where, self.holder(), lock_id)
        if current is None:
            return None
        from azure.storage.blob import BlobLeaseClient

        try:
            BlobLeaseClient(self._blob()).break_lease(lease_break_period=0)
        except Exception as error:
            if _error_code(error) != "LeaseNotPresentWithLeaseOperation":  # lapsed already: only the record is left
                raise _translate(error, f"breaking the lease in {self.where}") from None
        lease = self._acquire_lease()
        if lease is None or self._recorded(lease) != current:
            raise LockError(f"the lock in {self.where} changed hands while it was being broken; nothing was broken")
        self._call(lambda: self._blob().set_blob_metadata({}, lease=lease), "clearing the holder")
        self._call(lease.release, "releasing the lease")
        return current

    def _renew(self) -> None:
        lease = self._lease
        if lease is None:
            return
        try:
            lease.renew()
        except Exception as error:
            if _error_code(error).startswith("Lease"):  # broken, or another lease id: not ours any more
                raise LeaseLost(f"the lock in {self.where} was lost while held ({_error_code(error)})") from None
            raise

    def _recorded(self, lease: Any) -> Holder | None:
        properties = self._call(lambda: self._blob().get_blob_properties(lease=lease), "reading the lock")
        return _holder(properties.metadata)

    def _acquire_lease(self) -> Any:
        try:
            return self._blob().acquire_lease(lease_duration=LEASE_SECONDS)
        except Exception as error:
            if _error_code(error) in {"LeaseAlreadyPresent", "LeaseIsBreakingAndCannotBeAcquired"}:
                return None
            raise _translate(error, f"taking the lock in {self.where}") from None

    def _ensure_blob(self) -> None:
        try:
            self._blob().upload_blob(b"", overwrite=False)
        except Exception as error:
            if _error_code(error) not in {"BlobAlreadyExists", "LeaseIdMissing"}:
                raise _translate(error, f"creating the lock blob {self.where}") from None

    def _call(self, action: Callable[[], Any], what: str, *, missing_ok: bool = False) -> Any:
        try:
            return action()
        except Exception as error:
            if missing_ok and _error_code(error) == "BlobNotFound":
                return None
            raise _translate(error, f"{what} in {self.where}") from None

    def _blob(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        from azure.storage.blob import BlobClient

        # The transport every azure client of cmkctl's has: it refuses any request that is not https.
        transport = azure_transport(clock=SYSTEM_CLOCK, routes=(), ca_bundle=None)
        if self._connection_string:
            try:
                client = BlobClient.from_connection_string(self._connection_string, self.container, self.blob,
                                                           transport=transport, **_observed())
            except ValueError:  # its message may quote the string, account key included
                raise LockError(f"{CONNECTION_STRING_VARIABLE} is not a storage connection string") from None
            if client.account_name != self.account:
                raise LockError(f"{CONNECTION_STRING_VARIABLE} is for storage account {client.account_name}, "
                                f"but the lock is in {self.account}")
            # Before the first request: a BlobEndpoint in clear would carry the SharedKey signature or the SAS.
            refuse_plain_http(str(client.url), plane="blob lock")
            return client
        from reconciler.providers.azure_common import default_azure_credential

        return BlobClient(f"https://{self.account}.blob.core.windows.net", self.container, self.blob,
                          credential=default_azure_credential(), transport=transport, **_observed())


def _observed() -> dict[str, Any]:
    """The lock's exchanges (lease, metadata) in --debug and --audit-log, redacted like every plane's
    (the SharedKey signature and a SAS's `sig` never shown). Storage clients take extra policies
    only through this keyword; they run last, once per attempt, on the request as signed."""
    if not WIRE.observed:
        return {}
    from reconciler.providers.azure_common import wire_policy

    return {"_additional_pipeline_policies": [wire_policy(PLANE)]}


def _metadata(holder: Holder) -> dict[str, str]:
    # Metadata travels in HTTP headers: names are identifiers, values ASCII.
    return {field: quote(str(getattr(holder, field)), safe=" :@._-") for field in FIELDS}


def _holder(metadata: dict[str, str] | None) -> Holder | None:
    found = {k.lower(): unquote(v) for k, v in (metadata or {}).items()}
    if "id" not in found:
        return None
    pid = found.get("pid", "0")
    return Holder(who=found.get("who", "?"), host=found.get("host", "?"), pid=int(pid) if pid.isdigit() else 0,
                  since=found.get("since", "?"), id=found["id"], key_set=found.get("key_set", ""))


def _error_code(error: Exception) -> str:
    code = getattr(error, "error_code", None) or ""
    return str(getattr(code, "value", code))  # the SDK's StorageErrorCode enum, or the service's plain string


def _translate(error: Exception, what: str) -> Exception:
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    if isinstance(error, ClientAuthenticationError) or _error_code(error) in {"AuthenticationFailed",
                                                                               "AuthorizationFailure"}:
        return CredentialError(f"{what}: no usable credentials ({_error_code(error) or type(error).__name__}); "
                               f"the identity needs Storage Blob Data Contributor on the container, or set "
                               f"{CONNECTION_STRING_VARIABLE}")
    if isinstance(error, AzureError):
        return LockError(f"{what}: {_error_code(error) or type(error).__name__}")
    return error
