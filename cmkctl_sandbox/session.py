"""The sandbox as a context manager: state loaded, HTTPS server running, an offer for its clients."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from cmkctl_sandbox import clock, operations, propagation, realism, replication
from cmkctl_sandbox.clock import EmulatorClock
from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.dirlock import DirectoryLock
from cmkctl_sandbox.dispatcher import Dispatcher
from cmkctl_sandbox.faults import PLANES, ConfiguredFaults, FaultConfig, FaultInjector, load_config
from cmkctl_sandbox.halt import Halt
from cmkctl_sandbox.offer import Endpoints, Offer
from cmkctl_sandbox.served import claim
from cmkctl_sandbox.server import SandboxServer
from cmkctl_sandbox.state import StateStore, read_calls
from cmkctl_sandbox.tls import CA_FILE, HOST, Authority, new_authority
from cmkctl_sandbox.wire import State
from cmkctl_sandbox.world import load_state

if TYPE_CHECKING:
    from cmkctl_sandbox.aws import AwsPlane


class Sandbox:
    """`with Sandbox(dir) as sandbox:` serves every emulated plane until the block ends.

    The state lives in DIR/state.json and is written after every change, so a sandbox killed
    mid-apply leaves exactly what the "cloud" did; a later Sandbox(DIR) carries on from it.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        faults: Mapping[str, FaultInjector] | None = None,
        tenant_id: str | None = None,
        organization_id: str | None = None,
        aws_account_id: str | None = None,
        issued: Issued | None = None,
        realism: Mapping[str, float] | None = None,
    ) -> None:
        self.directory = Path(directory)
        # The credentials its planes accept: new ones at every start, unless given (a test's canaries).
        self.issued = issued or Issued.random()
        # Explicit injectors (tests) take precedence over DIR/faults.yaml and CMKCTL_SANDBOX_FAULTS.
        self._faults = faults
        # The lags of the emulator's time (realism.py) a test sets by name (realism.OFF: every one), in place
        # of the configuration's `realism`.
        self._realism = realism
        self.configured: ConfiguredFaults | None = None
        self._halt: Halt | None = None
        # Whom the caller's credentials belong to when the world is new (see world.load_state).
        self._tenant_id = tenant_id
        self._organization_id = organization_id
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._store: StateStore | None = None
        self._authority: Authority | None = None
        # moto serves AWS only when an account is given: it is the slowest plane to start.
        self._aws_account_id = aws_account_id
        self._aws: AwsPlane | None = None
        self._aws_url: str | None = None
        self._lock: DirectoryLock | None = None

    def start(self) -> Sandbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Before anything is read or written (state.json, ca.pem): one sandbox per DIR.
        self._lock = claim(self.directory)
        try:
            return self._start_planes()
        except BaseException:
            self.stop()
            raise

    def _start_planes(self) -> Sandbox:
        state = load_state(self.directory, tenant_id=self._tenant_id, org_id=self._organization_id)
        self._store = StateStore(self.directory, state)
        config = load_config(self.directory) if self._faults is None else FaultConfig()
        realism.apply(state, self._lags(config, state))
        injectors = self._faults if self._faults is not None else self._configured_faults(config, state)
        self._store.commit()  # the configured lags are part of the world from its first request on
        self._halt = Halt(self.directory)
        self._authority = new_authority(self.directory)
        self._server = SandboxServer(HOST, self._authority.context,
                                     Dispatcher(self._store, self.issued, injectors, self._halt))
        # A short poll interval keeps stop() quick: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="cmkctl-sandbox", daemon=True
        )
        self._thread.start()
        if self._aws_account_id is not None:
            self._start_aws(self._aws_account_id)
        return self

    def _lags(self, config: FaultConfig, state: State) -> dict[str, float]:
        """The lags in force: the defaults, with the world's own principal lag (world.yaml), then those the
        test names, else those the configuration's `realism` names; a `grantLag` or `replicationLag`
        fault in seconds replaces its lag whatever realism says."""
        lags = dict(realism.DEFAULTS)
        world_lag = replication.world_seconds(state)
        if world_lag is not None:
            lags[realism.PRINCIPAL_REPLICATION] = world_lag
        lags.update((self._realism if self._realism is not None else config.realism) or {})
        if config.grant_lag or config.grant_lag_seconds:
            lags[realism.GRANT_PROPAGATION] = config.grant_lag_seconds
        if config.principal_lag is not None:
            lags[realism.PRINCIPAL_REPLICATION] = config.principal_lag
        return lags

    def _configured_faults(self, config: FaultConfig, state: State) -> dict[str, FaultInjector]:
        # Failed operations are configured afresh at each start: none unless faults.yaml says so now.
        operations.configure_failures(state, [failure.as_state() for failure in config.failed_operations])
        if not config.active:
            return {}
        replication.configure(state, assignment_seconds=config.assignment_lag)
        if config.grant_lag:
            propagation.configure(state, config.grant_lag)
        self.configured = ConfiguredFaults(config)
        return dict.fromkeys(PLANES, self.configured)

    def _start_aws(self, account_id: str) -> None:
        from cmkctl_sandbox.aws import AwsPlane

        store = self._store
        assert store is not None

        def changed(view: dict[str, Any]) -> None:
            with store.lock:
                store.state["kms"] = view
                store.commit()

        def record(path: str, status: int, mutating: bool, fault: str = "") -> None:
            store.record_call(method="POST", path=path, plane="aws", status=status, mutating=mutating, fault=fault)

        aws_faults = self._faults.get("aws") if self._faults is not None else self.configured
        assert self._halt is not None
        assert self._authority is not None
        self._aws = AwsPlane(self.directory, account_id, on_change=changed, record=record, faults=aws_faults,
                             halt=self._halt, tls=self._authority.context, issued=self.issued)
        try:
            self._aws_url = self._aws.start()
        except BaseException:
            self._aws = None
            self.stop()
            raise

    def stop(self) -> None:
        try:
            self._stop_planes()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def _stop_planes(self) -> None:
        if self._server is None or self._store is None:
            return
        if self._aws is not None:
            self._aws.stop()
            self._aws = None
        self._server.dispatcher.closed = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        with self._store.lock:
            self._store.commit(final=True)
        self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return f"https://{HOST}:{self._server.port}"

    @property
    def endpoints(self) -> Endpoints:
        url = self.url
        return Endpoints(arm=url, graph=url, astra=url, confluent=url, aws=self._aws_url,
                         ca_bundle=str(self.directory / CA_FILE))

    @property
    def offer(self) -> Offer:
        """What a client needs to use this emulator, its CA as made (not read back from DIR)."""
        if self._server is None or self._authority is None or self._store is None:
            raise RuntimeError("the sandbox is not running")
        return Offer(endpoints=self.endpoints, ca_pem=self._authority.ca_pem, vault_address=(HOST, self._server.port),
                     issued=self.issued, clock=EmulatorClock(self.advance_clock, self.clock_offset),
                     aws_account_id=self.aws_account_id)

    @property
    def fingerprint(self) -> str:
        """Its CA's fingerprint, which a client of a served emulator checks (see served.py)."""
        if self._authority is None:
            raise RuntimeError("the sandbox is not running")
        return self._authority.fingerprint

    @property
    def clock_offset(self) -> float:
        if self._store is None:
            raise RuntimeError("the sandbox is not running")
        with self._store.lock:
            return clock.offset(self._store.state)


    def advance_clock(self, at_least: float) -> float:
        """Move the emulator's time on (a client's sleep); the offset reached (see clock.py)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return self._server.dispatcher.advance_clock(at_least)

    def serve_control(self, secret: str) -> None:
        """Open the control channel to holders of `secret` (a served emulator's clients, see served.py)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        self._server.dispatcher.control_secret = secret

    @property
    def aws_account_id(self) -> str | None:
        """The account moto answers in, when this sandbox serves AWS."""
        return self._aws_account_id if self._aws_url is not None else None

    @property
    def state(self) -> State:
        """A deep copy of the live state (or of DIR/state.json once stopped)."""
        if self._store is None:
            return load_state(self.directory)
        return self._store.snapshot()

    def edit(self, change: Callable[[State], None]) -> None:
        """Change the running sandbox's state as its own handlers do: under its lock, then saved
        (a test breaking a link between two cycles of a watch, see cmkctl_sandbox.breakage)."""
        if self._store is None:
            raise RuntimeError("the sandbox is not running")
        with self._store.lock:
            change(self._store.state)
            self._store.commit()

    def calls(self) -> list[dict[str, Any]]:
        return read_calls(self.directory)
