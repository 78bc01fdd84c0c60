"""Fault injection, per control plane: the seam, and the configuration read from faults.yaml.

An injector sees each authenticated request before the plane does and may answer in its place;
its answer is recorded in calls.jsonl but never changes the state. It runs outside the state lock,
so an injected delay slows only its own request. The one fault that lets a change through is
`dropAfterWrite`: the plane carries the request out and saves it, then the connection is closed
before the reply leaves, as when a real service did the work and the network failed after it.
`failOperations` is no injector's: it is handed to the ARM plane (operations.py), whose operation
then fails as a service's does, changing what a failed operation changes.

Which request meets which fault is decided by a hash of (seed, plane, method, path, body, how many
times this process saw that request): the same apply under the same seed meets the same faults
whatever order its threads send requests in.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

import yaml

from cmkctl_sandbox import realism
from cmkctl_sandbox.wire import MUTATING_METHODS, Reply, Request

FAULTS_FILE = "faults.yaml"
# A path to a faults file, or the YAML itself (takes precedence over DIR/faults.yaml).
FAULTS_VARIABLE = "CMKCTL_SANDBOX_FAULTS"
LATENCY_VARIABLE = "CMKCTL_SANDBOX_LATENCY_MS"
PLANES = ("arm", "graph", "astra", "confluent", "aws")
# How a `transient: R` rate is shared out, R/5 each.
TRANSIENT_KINDS = ("throttle", "server_error", "drop", "drop_after_write", "timeout")


class FaultInjector(Protocol):
    def before(self, plane: str, request: Request) -> Reply | None:
        """A reply to send instead of the plane's, or None to let the request through."""
        ...


class FaultConfigError(ValueError):
    """faults.yaml (or the variable) is not a valid fault configuration."""


@dataclass(frozen=True)
class PlaneFaults:
    """Rates (0..1) of each fault for one plane, and its added latency."""

    throttle: float = 0.0          # 429 (AWS: 400 ThrottlingException) with Retry-After
    retry_after: float = 0.0       # seconds sent in Retry-After
    server_error: float = 0.0      # 500 or 503
    drop: float = 0.0              # connection closed before the plane sees the request
    drop_after_write: float = 0.0  # the plane carries the request out, then the connection is closed
    timeout: float = 0.0           # held timeout_ms, then 504 GatewayTimeout (nothing done)
    timeout_ms: float = 20.0
    latency_ms: float = 0.0        # added to every request of the plane
    lro_polls: int = 0             # extra "still running" answers to each long-running operation's polls

    @property
    def transient_rate(self) -> float:
        return self.throttle + self.server_error + self.drop + self.drop_after_write + self.timeout


@dataclass(frozen=True)
class OperationFailure:
    """ARM writes (`method`, a path containing `path`, case aside) whose operation ends Failed with
    `code` and `message`, the next `times` of them (None: every one)."""

    method: str
    path: str
    code: str
    message: str
    times: int | None = None

    def as_state(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "code": self.code, "message": self.message,
                "times": self.times}


@dataclass(frozen=True)
class FaultConfig:
    seed: int = 0
    planes: Mapping[str, PlaneFaults] = field(default_factory=dict)
    # Seconds of the emulator's time a new principal is invisible to RBAC (None: the world's), and a
    # new role assignment to reads (replication.py).
    principal_lag: float | None = None
    assignment_lag: float = 0.0
    # Key uses by a consuming service refused with 403 after each new grant (propagation.py): a count
    # of uses, or seconds of the emulator's time.
    grant_lag: int = 0
    grant_lag_seconds: float = 0.0
    # ARM writes whose long-running operation ends Failed with a chosen code and message (operations.py).
    failed_operations: tuple[OperationFailure, ...] = ()
    # The lags of the emulator's time this configuration sets, by name (realism.py); None: it sets none.
    realism: Mapping[str, float] | None = None

    def for_plane(self, plane: str) -> PlaneFaults:
        return self.planes.get(plane, PlaneFaults())

    @property
    def active(self) -> bool:
        return (any(p != PlaneFaults() for p in self.planes.values()) or self.principal_lag is not None
                or self.assignment_lag > 0 or self.grant_lag > 0 or self.grant_lag_seconds > 0
                or bool(self.failed_operations))


# ---- configuration --------------------------------------------------------------------------

_KEYS = {"transient", "throttle", "retryAfter", "serverError", "drop", "dropAfterWrite", "timeout", "latency", "lro"}


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultConfigError(f"{where}: a rate between 0 and 1 is expected, not {value!r}")
    return float(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultConfigError(f"{where}: a non-negative number is expected, not {value!r}")
    return float(value)


def _mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FaultConfigError(f"{where}: a mapping is expected")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise FaultConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                               f"known: {', '.join(sorted(allowed))}")
    return value


def _plane_section(base: PlaneFaults, section: Any, where: str) -> PlaneFaults:
    section = _mapping(section, where, _KEYS)
    changes: dict[str, Any] = {}
    if "transient" in section:
        share = _rate(section["transient"], f"{where}.transient") / len(TRANSIENT_KINDS)
        changes.update(dict.fromkeys(TRANSIENT_KINDS, share))
    for key, name in (("throttle", "throttle"), ("serverError", "server_error"), ("drop", "drop"),
                      ("dropAfterWrite", "drop_after_write")):
        if key in section:
            changes[name] = _rate(section[key], f"{where}.{key}")
    if "retryAfter" in section:
        changes["retry_after"] = _number(section["retryAfter"], f"{where}.retryAfter")
    if "timeout" in section:
        timeout = section["timeout"]
        if isinstance(timeout, dict):
            timeout = _mapping(timeout, f"{where}.timeout", {"rate", "ms"})
            changes["timeout"] = _rate(timeout.get("rate", 0), f"{where}.timeout.rate")
            changes["timeout_ms"] = _number(timeout.get("ms", base.timeout_ms), f"{where}.timeout.ms")
        else:
            changes["timeout"] = _rate(timeout, f"{where}.timeout")
    if "latency" in section:
        latency = _mapping(section["latency"], f"{where}.latency", {"ms"})
        changes["latency_ms"] = _number(latency.get("ms", 0), f"{where}.latency.ms")
    if "lro" in section:
        lro = _mapping(section["lro"], f"{where}.lro", {"polls"})
        changes["lro_polls"] = int(_number(lro.get("polls", 0), f"{where}.lro.polls"))
    merged = replace(base, **changes)
    if merged.transient_rate > 1:
        raise FaultConfigError(f"{where}: the fault rates add up to more than 1")
    return merged


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FaultConfigError(f"{where}: a non-empty string is expected, not {value!r}")
    return value


def _operation_failures(value: Any, where: str) -> tuple[OperationFailure, ...]:
    """`[{method, path, code, message, times?}]`: which ARM writes' operations end Failed, and how."""
    if not isinstance(value, list):
        raise FaultConfigError(f"{where}: a list is expected")
    failures = []
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        entry = _mapping(entry, at, {"method", "path", "code", "message", "times"})
        method = _text(entry.get("method"), f"{at}.method").upper()
        if method not in MUTATING_METHODS:
            raise FaultConfigError(f"{at}.method: one of {', '.join(sorted(MUTATING_METHODS))} is expected")
        times = int(_number(entry["times"], f"{at}.times")) if "times" in entry else None
        failures.append(OperationFailure(method, _text(entry.get("path"), f"{at}.path"),
                                         _text(entry.get("code"), f"{at}.code"),
                                         _text(entry.get("message"), f"{at}.message"), times))
    return tuple(failures)


def parse_config(document: Any, where: str = FAULTS_FILE) -> FaultConfig:
    """`{seed, all: {...}, arm: {...}, ..., replicationLag: {seconds: S, assignments: S},
    grantLag: {attempts: N, seconds: S}, failOperations: [{method, path, code, message, times}],
    realism: off | on | {LAG: SECONDS}}` (realism.py).

    `all` applies to every plane; a plane's own section then overrides it key by key.
    """
    if document is None:
        return FaultConfig()
    top = _mapping(document, where,
                   {"seed", "all", "replicationLag", "grantLag", "failOperations", "realism", *PLANES})
    seed = top.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FaultConfigError(f"{where}.seed: an integer is expected")
    common = _plane_section(PlaneFaults(), top.get("all", {}), f"{where}.all")
    planes = {p: _plane_section(common, top.get(p, {}), f"{where}.{p}") for p in PLANES}
    lag = _mapping(top.get("replicationLag", {}), f"{where}.replicationLag", {"seconds", "assignments"})
    principals = _number(lag["seconds"], f"{where}.replicationLag.seconds") if "seconds" in lag else None
    assignments = _number(lag.get("assignments", 0), f"{where}.replicationLag.assignments")
    grants = _mapping(top.get("grantLag", {}), f"{where}.grantLag", {"attempts", "seconds"})
    grant_lag = int(_number(grants.get("attempts", 0), f"{where}.grantLag.attempts"))
    grant_seconds = _number(grants.get("seconds", 0), f"{where}.grantLag.seconds")
    failures = _operation_failures(top.get("failOperations", []), f"{where}.failOperations")
    try:
        lags = realism.parse(top.get("realism"), f"{where}.realism")
    except realism.RealismError as error:
        raise FaultConfigError(str(error)) from None
    return FaultConfig(seed=seed, planes=planes, principal_lag=principals, assignment_lag=assignments,
                       grant_lag=grant_lag, grant_lag_seconds=grant_seconds, failed_operations=failures,
                       realism=lags)


def load_config(directory: Path, environ: Mapping[str, str] | None = None) -> FaultConfig:
    """The variable (a file path, or YAML text) if set, else DIR/faults.yaml, else no faults.

    CMKCTL_SANDBOX_LATENCY_MS (`100`, or `arm=100,graph=40`) adds latency to the planes it names
    that the configuration gives none: a shortcut for `{PLANE: {latency: {ms: N}}}`.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(FAULTS_VARIABLE, "").strip()
    if value:
        path = Path(value)
        if "\n" not in value and ":" not in value and path.is_file():
            config = _parse_text(path.read_text("utf-8"), str(path))
        else:
            config = _parse_text(value, FAULTS_VARIABLE)
    else:
        path = directory / FAULTS_FILE
        config = _parse_text(path.read_text("utf-8"), str(path)) if path.exists() else FaultConfig()
    return _with_latency(config, environ.get(LATENCY_VARIABLE, ""))


def _with_latency(config: FaultConfig, text: str) -> FaultConfig:
    delays = parse_latency(text)
    if not delays:
        return config
    planes = {p: config.for_plane(p) for p in PLANES}
    for plane, ms in delays.items():
        if not planes[plane].latency_ms:
            planes[plane] = replace(planes[plane], latency_ms=ms)
    return replace(config, planes=planes)


def parse_latency(text: str) -> dict[str, float]:
    """Milliseconds by plane from `100` (every plane) or `arm=100,graph=40`."""
    text = text.strip()
    if not text:
        return {}
    parts = [("", text)] if "=" not in text else [tuple(p.split("=", 1)) for p in text.split(",")]
    delays: dict[str, float] = {}
    for plane, value in parts:
        plane = plane.strip()
        if plane and plane not in PLANES:
            raise FaultConfigError(f"{LATENCY_VARIABLE}: unknown plane {plane!r} (one of {', '.join(PLANES)})")
        try:
            ms = float(value)
        except ValueError:
            raise FaultConfigError(f"{LATENCY_VARIABLE}: {value!r} is not a number of milliseconds") from None
        if not 0 <= ms <= 10_000:
            raise FaultConfigError(f"{LATENCY_VARIABLE}: {value!r} ms is outside 0..10000")
        delays.update({plane: ms} if plane else dict.fromkeys(PLANES, ms))
    return delays


def _parse_text(text: str, where: str) -> FaultConfig:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise FaultConfigError(f"{where}: not YAML: {error}") from None
    return parse_config(document, where)


# ---- the injector ---------------------------------------------------------------------------

# What a fault looks like on each plane's wire (status → code, message).
_MESSAGES = {
    429: ("TooManyRequests", "Rate limit exceeded (injected by the sandbox)."),
    500: ("InternalServerError", "Internal server error (injected by the sandbox)."),
    503: ("ServiceUnavailable", "The service is unavailable (injected by the sandbox)."),
    504: ("GatewayTimeout", "The gateway timed out (injected by the sandbox)."),
}
_AWS_CODES = {429: "ThrottlingException", 500: "KMSInternalException", 503: "ServiceUnavailable",
              504: "DependencyTimeoutException"}


def fault_reply(plane: str, status: int, retry_after: float | None = None, *, fault: str = "injected") -> Reply:
    """A plane-shaped error reply for an injected fault."""
    code, message = _MESSAGES[status]
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    if plane == "astra":
        body: Any = {"errors": [{"ID": status, "message": message}]}
    elif plane == "confluent":
        body = {"errors": [{"status": str(status), "code": code, "detail": message}]}
    elif plane == "aws":
        # KMS throttles with 400 ThrottlingException; botocore reads the code from __type.
        return Reply(400 if status == 429 else status, {"__type": _AWS_CODES[status], "message": message}, headers,
                     fault=fault)
    else:
        body = {"error": {"code": code, "message": message}}
    return Reply(status, body, headers, fault=fault)


@dataclass
class Decision:
    """What the injector decided for one request."""

    kind: str                      # throttle, server_error, drop, drop_after_write, timeout, lro
    reply: Reply | None = None     # sent instead of the plane's (None: the plane answers)


def _drop(kind: str = "drop") -> Reply:
    return Reply(0, None, {}, fault=kind)


class ConfiguredFaults:
    """A FaultInjector driven by a FaultConfig; one instance serves every plane of a sandbox.

    `decide` is called once per request before the plane; `after` sees the plane's reply (for
    drop-after-write and long-running operations). Every injected fault is counted in `injected`.
    """

    def __init__(self, config: FaultConfig, *, sleep: Any = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._local = threading.local()
        # Poll URL path -> (answers still to give, the answer).
        self._lros: dict[str, tuple[int, Reply]] = {}
        self.injected: Counter[str] = Counter()

    # The FaultInjector protocol, for the dispatcher.
    def before(self, plane: str, request: Request) -> Reply | None:
        decision = self.decide(plane, request)
        self._local.pending = decision
        return decision.reply if decision else None

    def after(self, plane: str, request: Request, reply: Reply) -> Reply:
        decision: Decision | None = getattr(self._local, "pending", None)
        self._local.pending = None
        if decision is not None and decision.kind == "drop_after_write":
            return _drop("drop_after_write")
        self._note_lro(plane, request, reply)
        return reply

    def decide(self, plane: str, request: Request) -> Decision | None:
        faults = self.config.for_plane(plane)
        if faults.latency_ms:
            self._sleep(faults.latency_ms / 1000)
        polled = self._lro_answer(request)
        if polled is not None:
            return self._count(Decision("lro", polled))
        draw = self._draw(plane, request)
        kind = self._kind(faults, draw)
        if kind is None:
            return None
        if kind == "drop_after_write":
            return self._count(Decision(kind) if request.mutating else Decision("drop", _drop()))
        if kind == "drop":
            return self._count(Decision(kind, _drop()))
        if kind == "timeout":
            self._sleep(faults.timeout_ms / 1000)
            return self._count(Decision(kind, fault_reply(plane, 504, fault=kind)))
        if kind == "throttle":
            return self._count(Decision(kind, fault_reply(plane, 429, faults.retry_after, fault=kind)))
        status = 503 if int(draw * 1e6) % 2 else 500
        return self._count(Decision(kind, fault_reply(plane, status, fault=kind)))

    def _count(self, decision: Decision) -> Decision:
        with self._lock:
            self.injected[decision.kind] += 1
        return decision

    def _draw(self, plane: str, request: Request) -> float:
        body = hashlib.sha256(request.body).hexdigest()
        scope = " ".join(f"{k}={v}" for k, v in sorted(request.query.items()))
        key = f"{plane} {request.method} {request.path} {scope} {body}"
        with self._lock:
            self._seen[key] += 1
            occurrence = self._seen[key]
        digest = hashlib.sha256(f"{self.config.seed}|{key}|{occurrence}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    @staticmethod
    def _kind(faults: PlaneFaults, draw: float) -> str | None:
        edge = 0.0
        for kind in TRANSIENT_KINDS:
            edge += getattr(faults, kind)
            if draw < edge:
                return kind
        return None

    # Long-running operations: their first polls answer "still running" lro_polls more times, without
    # Retry-After, as ARM's operations answer (operations.py).
    def _note_lro(self, plane: str, request: Request, reply: Reply) -> None:
        polls = self.config.for_plane(plane).lro_polls
        if not polls or plane != "arm" or request.method not in ("PUT", "PATCH") or reply.status not in (200, 201, 202):
            return
        operation = reply.headers.get("Azure-AsyncOperation")
        if operation:
            path = "/" + operation.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
            running = Reply(200, {"status": "InProgress"})
        elif isinstance(reply.body, dict) and _provisioning(reply.body) not in (None, "Succeeded"):
            path, running = request.path, Reply(200, reply.body)
        else:
            return
        with self._lock:
            self._lros[path] = (polls, running)

    def _lro_answer(self, request: Request) -> Reply | None:
        if request.method != "GET":
            return None
        with self._lock:
            pending = self._lros.get(request.path)
            if pending is None:
                return None
            left, answer = pending
            if left <= 1:
                del self._lros[request.path]
            else:
                self._lros[request.path] = (left - 1, answer)
        return Reply(answer.status, answer.body, dict(answer.headers), fault="lro")


def _provisioning(body: dict[str, Any]) -> Any:
    properties = body.get("properties")
    return properties.get("provisioningState") if isinstance(properties, dict) else None


def describe(config: FaultConfig) -> str:
    """One line per plane with faults, for logs and the soak script."""
    lines = []
    for plane in PLANES:
        faults = config.for_plane(plane)
        if faults == PlaneFaults():
            continue
        parts = [f"{f.name}={getattr(faults, f.name):g}" for f in fields(faults)
                 if getattr(faults, f.name) != getattr(PlaneFaults(), f.name)]
        lines.append(f"{plane}: {', '.join(parts)}")
    return "\n".join(lines)
