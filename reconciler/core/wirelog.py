"""What cmkctl says on the wire: `--debug` HTTP logging (redacted) and the `--audit-log` of mutating calls.

The providers' HTTP clients report every exchange here (httpx event hooks, an azure-core policy, a
botocore event handler); the executor says which step is running (a context variable, so parallel
steps are told apart). Nothing here imports an SDK.

Redaction is by exact name (case aside), never by substring: `enableRbacAuthorization` is a
setting worth seeing, not a credential. The values of the secret headers, of the secret fields of
JSON bodies (at any depth) and of the secret query parameters are replaced by `***`; everything
else is logged, the query string included, since the api-version and the filters sent are what a
wire log is read for.
"""

from __future__ import annotations

import collections
import contextvars
import getpass
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote_plus, urlsplit

MUTATING = frozenset({"PUT", "POST", "PATCH", "DELETE"})
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "api-key", "x-api-key",
    "x-amz-security-token", "x-ms-authorization-auxiliary", "ocp-apim-subscription-key",
})
# The secrets cmkctl sends (a service's administrator password: any field whose name ends in
# "password", see `_secret_field`), and the credential fields of the token and key exchanges an SDK
# might log through us.
SECRET_FIELDS = frozenset(name.lower() for name in (
    "password", "administratorLoginPassword", "adminPassword",
    "secret", "clientSecret", "client_secret", "api_secret", "apiSecret", "api_key", "apiKey",
    "token", "access_token", "accessToken", "refresh_token", "refreshToken", "id_token", "client_assertion",
    "sasToken", "connectionString", "primaryKey", "secondaryKey", "privateKey", "private_key",
))
SECRET_QUERY_PARAMETERS = frozenset({
    "sig", "signature", "x-amz-signature", "x-amz-security-token", "x-amz-credential", "code", "token",
    "access_token", "client_secret", "password", "api_key", "apikey", "api-key", "subscription-key",
})
REQUEST_ID_HEADERS = ("x-ms-request-id", "x-amzn-requestid", "x-amz-request-id", "x-request-id", "request-id",
                      "x-ms-correlation-request-id")


@dataclass(frozen=True)
class StepContext:
    address: str
    kind: str
    action: str


_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("cmkctl_step", default=None)


@contextmanager
def step(address: str, kind: str, action: str) -> Iterator[None]:
    token = _step.set(StepContext(address, kind, action))
    try:
        yield
    finally:
        _step.reset(token)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_query(query: str) -> str | None:
    """The query as sent (still percent-encoded), each secret parameter's value replaced."""
    return "&".join(_redact_parameter(pair) for pair in query.split("&")) if query else None


def _redact_parameter(pair: str) -> str:
    name, equals, _ = pair.partition("=")
    return f"{name}=***" if equals and unquote_plus(name).lower() in SECRET_QUERY_PARAMETERS else pair


def redact_body(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: ("***" if _secret_field(str(k)) else redact_body(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_body(v) for v in value]
    return value


def _body_text(body: bytes | str | None) -> str | None:
    if not body:
        return None
    try:
        return json.dumps(redact_body(json.loads(body)), separators=(",", ":"))[:4000]
    except (ValueError, TypeError):
        return f"<{len(body)} bytes, not JSON: not logged>"


class WireLog:
    """Where exchanges go: a debug stream and an audit file, either or both (or neither)."""

    def __init__(self) -> None:
        self.debug: TextIO | None = None
        self.audit: Path | None = None
        self._lock = threading.Lock()
        self._who = ""
        # Tallies of exchanges by plane, while someone counts (a watch's cycle): see `counting`.
        self._tallies: list[collections.Counter[str]] = []
        # Set before clients are built when exchanges will be counted: they then report every exchange.
        self.counts_wanted = False

    @property
    def active(self) -> bool:
        return self.debug is not None or self.audit is not None

    @property
    def observed(self) -> bool:
        """Whether clients must report their exchanges: to a log, or to a tally (see `counting`)."""
        return self.active or self.counts_wanted

    def configure(self, *, debug: TextIO | None, audit: Path | None) -> None:
        self.debug, self.audit = debug, audit
        if audit is not None:
            audit.parent.mkdir(parents=True, exist_ok=True)
            audit.touch()

    def who(self) -> str:
        if not self._who:
            try:
                user = getpass.getuser()
            except (KeyError, OSError):
                user = "unknown"
            self._who = f"{user}@{socket.gethostname()}"
        return self._who

    def exchange(self, *, plane: str, method: str, url: str, status: int | None,
                 request_headers: Mapping[str, str] | None = None, response_headers: Mapping[str, str] | None = None,
                 request_body: bytes | str | None = None, error: str = "", mutating: bool | None = None) -> None:
        """One request and its answer (status None: no answer, `error` says why)."""
        if self._tallies:
            with self._lock:
                for tally in self._tallies:
                    tally[plane] += 1
        if not self.active:
            return
        parts = urlsplit(url) if "://" in url else None
        path, query = (parts.path, parts.query) if parts else (url, "")
        request_id = next((str(v) for k, v in (response_headers or {}).items() if k.lower() in REQUEST_ID_HEADERS), "")
        if self.debug is not None:
            entry = {"plane": plane, "method": method, "path": path, "query": redact_query(query), "status": status,
                     "request": redact_headers(dict(request_headers or {})), "body": _body_text(request_body),
                     "request_id": request_id or None, "error": error or None}
            self._write_debug(entry)
        if self.audit is not None and (method.upper() in MUTATING if mutating is None else mutating):
            context = _step.get()
            self.append_audit({
                "what": {"address": context.address if context else None, "kind": context.kind if context else None,
                         "action": context.action if context else None, "plane": plane, "method": method,
                         "path": path},
                "result": "ok" if status is not None and status < 400 else (f"HTTP {status}" if status else
                                                                            f"no answer: {error}"),
                "status": status, "request_id": request_id or None,
            })

    @contextmanager
    def counting(self) -> Iterator[collections.Counter[str]]:
        """The exchanges made while the block runs, by plane (every attempt counts: retries too)."""
        tally: collections.Counter[str] = collections.Counter()
        with self._lock:
            self._tallies.append(tally)
        try:
            yield tally
        finally:
            with self._lock:
                self._tallies.remove(tally)

    def step_result(self, *, address: str, kind: str, action: str, result: str) -> None:
        if self.audit is not None:
            self.append_audit({"what": {"address": address, "kind": kind, "action": action, "step": True},
                               "result": result})

    def lock_event(self, *, event: str, key_set: str, where: str, lock_id: str) -> None:
        """The key set's lock taken or released: the audit log says who held it, where, and when."""
        if self.audit is not None:
            self.append_audit({"what": {"lock": event, "key_set": key_set, "where": where, "lock_id": lock_id},
                               "result": "ok"})

    def interrupt_event(self, *, signal_name: str, result: str) -> None:
        """An interrupt an apply received (SIGINT, SIGTERM), and what it did about it."""
        if self.audit is not None:
            self.append_audit({"what": {"interrupt": signal_name}, "result": result})

    def append_audit(self, entry: dict[str, Any]) -> None:
        assert self.audit is not None
        line = json.dumps({"when": datetime.now(UTC).isoformat(timespec="milliseconds"), "who": self.who(), **entry},
                          separators=(",", ":"))
        with self._lock, open(self.audit, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def _write_debug(self, entry: dict[str, Any]) -> None:
        stream = self.debug or sys.stderr
        with self._lock:
            stream.write("cmkctl http " + json.dumps(entry, separators=(",", ":")) + "\n")
            stream.flush()


LOG = WireLog()

# The SDKs' loggers: azure-identity reports a failed credential chain there (34 lines, twice).
SDK_LOGGERS = ("azure", "msal", "botocore", "boto3", "urllib3", "s3transfer", "httpx", "httpcore")
_CREDENTIAL_IN_TEXT = re.compile(r"\b(bearer|basic)\s+[\w.~+/=-]+", re.IGNORECASE)


class DebugHandler(logging.Handler):
    """Log records on the --debug stream, one line each, tokens in them masked."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.DEBUG)
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " | ".join(line.strip() for line in record.getMessage().splitlines() if line.strip())
            self._stream.write(f"cmkctl log {record.name} {record.levelname}: "
                               f"{_CREDENTIAL_IN_TEXT.sub(lambda m: m.group(1) + ' ***', text)}\n")
            self._stream.flush()
        except Exception:
            self.handleError(record)


def route_logging(debug: TextIO | None) -> None:
    """cmkctl's logger, and the SDKs' through it: on the --debug stream, else silent.

    Without this, Python prints the SDKs' warnings on stderr by itself, beside the one message
    cmkctl gives for the same failure.
    """
    handler: logging.Handler = DebugHandler(debug) if debug is not None else logging.NullHandler()
    for name in ("cmkctl", *SDK_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        # Warnings only from the SDKs: their INFO repeats every exchange the wire log already shows.
        level = logging.DEBUG if name == "cmkctl" else logging.WARNING
        logger.setLevel(level if debug is not None else logging.CRITICAL + 1)


def _secret_field(name: str) -> bool:
    """A credential's field, or a password of any service (each names its own: initial, admin, login)."""
    lowered = name.lower()
    return lowered in SECRET_FIELDS or lowered.endswith("password")
