"""One request through the sandbox: plane, authentication, faults, handler, state, journal."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from cmkctl_sandbox import clock, control
from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.faults import FaultInjector
from cmkctl_sandbox.halt import Halt
from cmkctl_sandbox.planes import Plane, plane_for
from cmkctl_sandbox.state import StateStore
from cmkctl_sandbox.wire import Refusal, Reply, Request

log = logging.getLogger(__name__)

# Set in the test suite: every read that does not say it `advanced` the world is checked to have
# left the state exactly as it was, so a handler that forgets to say so fails loudly.
VERIFY_READS_VARIABLE = "CMKCTL_SANDBOX_VERIFY_READS"


def _exchange(request: Request, reply: Reply) -> dict[str, Any]:
    """What the conformance tests read of one exchange (the journal redacts its secrets)."""
    try:
        body = request.json()
    except ValueError:
        body = request.body.decode(errors="replace")
    return {"requestBody": body, "responseBody": reply.body}


class Dispatcher:
    def __init__(self, store: StateStore, issued: Issued, faults: Mapping[str, FaultInjector] | None = None,
                 halt: Halt | None = None) -> None:
        self.store = store
        self.issued = issued
        # Set while served (served.py): the secret of the key `cmkctl sandbox serve` printed.
        self.control_secret: str | None = None
        self.faults = dict(faults or {})
        self.halt = halt or Halt(store.directory, "")
        self.closed = False
        self.verify_reads = os.environ.get(VERIFY_READS_VARIABLE) == "1"

    def respond(self, request: Request) -> Reply:
        if control.is_control(request):
            return control.answer(request, secret=self.control_secret, issued=self.issued, offset=self.clock_offset,
                                  advance=self.advance_clock)
        self.halt.gate()
        plane = plane_for(request)
        reply, fault = self._reply(plane, request)
        self.store.record_call(
            method=request.method,
            path=request.path,
            plane=plane.name if plane else "unknown",
            status=reply.status,
            mutating=request.mutating,
            fault=fault,
            query=request.query,
            exchange=_exchange(request, reply) if self.store.journal_exchanges else None,
            # A vault is its own host: the path alone does not say which vault a data-plane call was for.
            host=request.header("host").rsplit(":", 1)[0].lower() if plane is not None and plane.name == "keyvault"
            else "",
        )
        if fault in ("", "drop_after_write"):
            self.halt.carried_out(f"{request.method} {request.path}", request.mutating)
        return reply

    def _reply(self, plane: Plane | None, request: Request) -> tuple[Reply, str]:
        """The reply, and the kind of fault injected ('' when the plane answered)."""
        if self.closed:
            # A kept-alive connection may outlive the session; the world must not change after it.
            return Reply(503, {"error": {"code": "SandboxStopped", "message": "The sandbox has stopped."}}), "stopped"
        if plane is None:
            return Reply(404, {"error": {"code": "NotFound", "message": f"No sandbox plane serves {request.path}"}}), ""
        if not plane.authenticated(request, self.issued):
            return plane.unauthorized(request), ""
        injector = self.faults.get(plane.name)
        injected = injector.before(plane.name, request) if injector else None
        if injected is not None:
            return injected, injected.fault or "injected"
        reply = self._handle(plane, request)
        after = getattr(injector, "after", None)
        if after is None:
            return reply, ""
        final: Reply = after(plane.name, request, reply)
        return final, final.fault

    def clock_offset(self) -> float:
        with self.store.lock:
            return clock.offset(self.store.state)

    def advance_clock(self, at_least: float) -> float:
        """Move the emulator's time on to `at_least` (see clock.py); the offset reached."""
        with self.store.lock:
            reached = clock.advance_to(self.store.state, at_least)
            self.store.commit()
        return reached

    def _handle(self, plane: Plane, request: Request) -> Reply:
        with self.store.lock:
            try:
                reply = plane.handle(request, self.store.state)
            except Refusal as refusal:
                reply = refusal.reply
            except Exception:
                # A bug in the emulator must not leave half a change behind.
                log.exception("sandbox handler failed on %s %s", request.method, request.path)
                self.store.rollback()
                reply = Reply(500, {"error": {"code": "InternalServerError", "message": "sandbox handler failed"}})
                return reply
            # Comparing a fleet's state with the saved one costs ~2 ms under the lock: a plan's
            # reads, nearly all of its calls, skip it unless they say they moved something.
            if request.mutating or reply.advanced:
                self.store.commit()
            elif self.verify_reads and self.store.changed():
                self.store.rollback()
                log.error("%s %s changed the sandbox state without setting Reply.advanced", request.method,
                          request.path)
                return Reply(500, {"error": {"code": "UnsavedReadChange",
                                             "message": f"sandbox bug: {request.method} {request.path} changed the "
                                                        "state without setting Reply.advanced"}})
            return reply
