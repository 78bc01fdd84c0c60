"""What cmkctl says on the wire: `--debug` HTTP logging (redacted) and the `--audit-log` of mutating calls.

The providers' HTTP clients report every exchange here (httpx event hooks, an azure-core policy, a
botocore event handler); the executor says which step is running (a context variable, so parallel
steps are told apart). Nothing here imports an SDK.

Redaction: header values of Authorization, cookies and API keys are replaced by `***`; in JSON
bodies, any field whose name contains password, secret, token, credential or authorization is
replaced by `***`, whatever its depth. Query strings are dropped (none of cmkctl's carry secrets,
and none need to be logged).
"""

from __future__ import annotations

import contextvars
import getpass
import json
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
from urllib.parse import urlsplit

MUTATING = frozenset({"PUT", "POST", "PATCH", "DELETE"})
SECRET_HEADERS = re.compile(r"authorization|cookie|api-key|x-amz-security-token|x-ms-authorization", re.IGNORECASE)
SECRET_FIELDS = re.compile(r"password|secret|token|credential|authorization", re.IGNORECASE)
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
    return {k: ("***" if SECRET_HEADERS.search(k) else v) for k, v in headers.items()}


def redact_body(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: ("***" if SECRET_FIELDS.search(str(k)) else redact_body(v)) for k, v in value.items()}
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

    @property
    def active(self) -> bool:
        return self.debug is not None or self.audit is not None

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
        if not self.active:
            return
        path = urlsplit(url).path if "://" in url else url
        request_id = next((str(v) for k, v in (response_headers or {}).items() if k.lower() in REQUEST_ID_HEADERS), "")
        if self.debug is not None:
            entry = {"plane": plane, "method": method, "path": path, "status": status,
                     "request": redact_headers(dict(request_headers or {})), "body": _body_text(request_body),
                     "requestId": request_id or None, "error": error or None}
            self._write_debug(entry)
        if self.audit is not None and (method.upper() in MUTATING if mutating is None else mutating):
            context = _step.get()
            self.append_audit({
                "what": {"address": context.address if context else None, "kind": context.kind if context else None,
                         "action": context.action if context else None, "plane": plane, "method": method,
                         "path": path},
                "result": "ok" if status is not None and status < 400 else (f"HTTP {status}" if status else
                                                                            f"no answer: {error}"),
                "status": status, "requestId": request_id or None,
            })

    def step_result(self, *, address: str, kind: str, action: str, result: str) -> None:
        if self.audit is not None:
            self.append_audit({"what": {"address": address, "kind": kind, "action": action, "step": True},
                               "result": result})

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
