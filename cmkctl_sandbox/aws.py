"""The sandbox's AWS plane: moto (KMS and STS) on loopback, its KMS state kept in DIR.

moto keeps its backends in memory, in this process. So that key IDs and ARNs survive from one
cmkctl invocation to the next, the KMS backend is pickled to DIR/kms.pickle after every request
that changed it, before the reply leaves (moto's keys hold a `cryptography` private key, which
pickles through a reducer to DER), and loaded when the sandbox starts. A readable copy goes to
the `kms` section of DIR/state.json for `cmkctl sandbox show`.

moto is served over HTTPS on loopback, with the certificate of the emulator's other planes, and
every request's Signature Version 4 is checked with the credentials the emulator issued before moto
sees it (sigv4.py). The account is the manifest's (moto's `x-moto-account-id`), so the STS account
guard passes. One AWS plane runs per process at a time: moto's backends are process-wide.

Faults (faults.py) are injected here too, shaped as KMS errors; the test hook that halts the world
after a chosen mutating request (halt.py) counts KMS writes with the HTTPS planes'.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cmkctl_sandbox.credentials import Issued
from cmkctl_sandbox.extra import needs_extra
from cmkctl_sandbox.faults import FaultInjector
from cmkctl_sandbox.halt import HALT_MARKER, HALT_VARIABLE, Halt
from cmkctl_sandbox.sigv4 import problem
from cmkctl_sandbox.state import write_atomically_bytes
from cmkctl_sandbox.wire import Reply, Request

KMS_FILE = "kms.pickle"
__all__ = ["HALT_MARKER", "HALT_VARIABLE", "AwsPlane"]
# KMS actions that change nothing worth saving (cryptographic operations read the key only).
READ_PREFIXES = ("Describe", "List", "Get", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateRandom",
                 "Sign", "Verify", "GenerateMac", "VerifyMac")

_running = threading.Lock()


def _load_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, password=None)


class _KeyPickler(pickle.Pickler):
    """Pickles `cryptography` private keys (which refuse pickling) as their DER bytes."""

    def reducer_override(self, obj: Any) -> Any:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            der = obj.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
            return _load_private_key, (der,)
        return NotImplemented


def _kms_backends() -> Any:
    from moto.kms.models import kms_backends

    return kms_backends


def _backends() -> Iterable[tuple[str, str, Any]]:
    for account_id, by_region in list(_kms_backends().items()):
        for region, backend in list(by_region.items()):
            yield account_id, region, backend


def kms_keys() -> Iterable[Any]:
    """Every key moto's KMS holds, in every account and region."""
    for _, _, backend in _backends():
        yield from backend.keys.values()


def save_kms(directory: Path) -> None:
    data = {(a, r): {"keys": b.keys, "tagger": b.tagger} for a, r, b in _backends() if b.keys}
    buffer = io.BytesIO()
    _KeyPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(data)
    write_atomically_bytes(directory / KMS_FILE, buffer.getvalue())


def load_kms(directory: Path) -> None:
    """Empty moto's KMS, then fill it from DIR/kms.pickle (the sandbox's own file) when there is one."""
    from moto.utilities.tagging_service import TaggingService

    for _, _, backend in _backends():
        backend.keys = {}
        backend.tagger = TaggingService(key_name="TagKey", value_name="TagValue")
    path = directory / KMS_FILE
    if not path.exists():
        return
    saved: dict[tuple[str, str], dict[str, Any]] = pickle.loads(path.read_bytes())  # our own file, never a download
    for (account_id, region), parts in saved.items():
        backend = _kms_backends()[account_id][region]
        backend.keys = parts["keys"]
        backend.tagger = parts["tagger"]


def kms_view() -> dict[str, Any]:
    """What moto's KMS holds, as plain JSON for state.json and `sandbox show`."""
    keys = []
    for account_id, region, backend in _backends():
        for key in backend.keys.values():
            keys.append({
                "account": account_id,
                "region": region,
                "keyId": key.id,
                "arn": key.arn,
                "description": key.description,
                "keyState": key.key_state,
                "keySpec": key.key_spec,
                "keyUsage": key.key_usage,
                "rotation": bool(key.key_rotation_status),
                "aliases": sorted(key.aliases),
                # moto tags a key by its ID (CreateKey) or its ARN (TagResource with an ARN).
                "tags": {**backend.tagger.get_tag_dict_for_resource(key.arn),
                         **backend.tagger.get_tag_dict_for_resource(key.id)},
                "policy": key.policy,
                "created": key.creation_date,
            })
    return {"keys": sorted(keys, key=lambda k: (k["region"], k["created"], k["keyId"]))}


def _action(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, action) of a request: KMS says it in X-Amz-Target; STS only reads here."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target.startswith("TrentService."):
        return "kms", target.split(".", 1)[1]
    return "sts", ""


class _Persisting:
    """WSGI middleware: one request at a time, the KMS state saved before a mutating reply leaves."""

    def __init__(self, app: Any, plane: AwsPlane) -> None:
        self._app = app
        self._plane = plane
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self._plane.account_id
        service, action = _action(environ)
        label = f"{service}:{action or 'GetCallerIdentity'}"
        mutating = service == "kms" and not action.startswith(READ_PREFIXES)
        self._plane.halt.gate()
        request = _request(environ, label, mutating)
        refused = (_unsigned(environ, request.body, self._plane.issued, service)
                   or _unscoped(request.query["region"], self._plane.account_id, service))
        if refused is not None:
            self._plane.record(label, refused.status, mutating, "")
            return _answer(refused, environ, start_response, xml=service == "sts")
        faults = self._plane.faults
        # Outside the lock: an injected delay slows only its own request.
        injected = faults.before("aws", request) if faults is not None else None
        if injected is not None:
            self._plane.record(label, injected.status, mutating, injected.fault or "injected")
            return _answer(injected, environ, start_response, xml=service == "sts")
        with self._lock:
            replied: list[Any] = []
            answer = self._app(environ, lambda status, headers, *_: replied.append((status, headers)))
            try:
                body = b"".join(answer)
            finally:
                getattr(answer, "close", lambda: None)()
            status, headers = replied[0]
            after = getattr(faults, "after", None)
            final = after("aws", request, Reply(int(status.split()[0]))) if after else None
            fault = final.fault if final is not None else ""
            self._plane.record(label, int(status.split()[0]), mutating, fault)
            if mutating:
                self._plane.persist()
        self._plane.halt.carried_out(label, mutating)
        if final is not None and final.dropped:
            return _answer(final, environ, start_response)
        start_response(status, headers)
        return [body]


def _request(environ: dict[str, Any], label: str, mutating: bool) -> Request:
    """The request as the fault injector sees it (its body kept for the app to read again)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    # The region (from the signature's scope) tells apart the same call made in two regions.
    scope = str(environ.get("HTTP_AUTHORIZATION", "")).split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    region = scope[2] if len(scope) > 2 else ""
    return Request(method="POST" if mutating else "GET", path=label, query={"region": region}, headers={},
                   body=body)


def _unsigned(environ: dict[str, Any], body: bytes, issued: Issued, service: str) -> Reply | None:
    """The refusal of a request not signed with the issued credentials, as KMS (400) or STS (403) answer it."""
    found = problem(environ, body, issued)
    if found is None:
        return None
    code, message = found
    if service == "sts":  # STS's names for the same refusals
        code = {"UnrecognizedClientException": "InvalidClientTokenId",
                "InvalidSignatureException": "SignatureDoesNotMatch"}.get(code, code)
        return Reply(403, {"__type": code, "message": message})
    return Reply(400, {"__type": code, "message": message})


def _unscoped(region: str, account_id: str, service: str) -> Reply | None:
    """AWS refuses a signature scoped to a region it does not have, in one line (a 400 InvalidSignatureException,
    SignatureDoesNotMatch from STS), rather than moto's traceback and HTML 500 for a backend it cannot make."""
    if region in _kms_backends()[account_id].regions:
        return None
    message = f"Credential should be scoped to a valid region, not '{region}'."
    if service == "sts":
        return Reply(403, {"__type": "SignatureDoesNotMatch", "message": message})
    return Reply(400, {"__type": "InvalidSignatureException", "message": message})


def _answer(reply: Reply, environ: dict[str, Any], start_response: Callable[..., Any], *,
            xml: bool = False) -> Iterable[bytes]:
    if reply.dropped:
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        start_response("500 Dropped", [("Content-Length", "0")])
        return [b""]
    if xml:  # STS speaks the query protocol: errors are XML
        code, message = reply.body["__type"], reply.body["message"]
        payload = (f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message>"
                   "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>").encode()
        content_type = "text/xml"
    else:
        payload, content_type = reply.encoded(), "application/x-amz-json-1.1"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(payload))), *reply.headers.items()]
    start_response(f"{reply.status} Injected", headers)
    return [payload]


class AwsPlane:
    """moto in a thread on 127.0.0.1 (an ephemeral port), KMS state loaded from and saved to DIR."""

    def __init__(self, directory: Path, account_id: str, *, on_change: Callable[[dict[str, Any]], None],
                 record: Callable[[str, int, bool, str], None], tls: ssl.SSLContext, issued: Issued,
                 faults: FaultInjector | None = None, halt: Halt | None = None) -> None:
        self.directory = directory
        self.issued = issued
        self._tls = tls
        self.faults = faults
        self.halt = halt or Halt(directory)
        self.account_id = account_id
        self._on_change = on_change
        self._record = record
        self._server: Any = None

    def start(self) -> str:
        with needs_extra():
            from moto.moto_server.threaded_moto_server import ThreadedMotoServer
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
            from werkzeug.serving import WSGIRequestHandler, make_server

        if not _running.acquire(blocking=False):
            raise RuntimeError("another sandbox in this process already runs the AWS plane (moto is process-wide)")
        plane = self

        class _Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        class _Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                app = _Persisting(DomainDispatcherApplication(create_backend_app), plane)
                self._server = make_server(self._ip_address, self._port, app, True, request_handler=_Quiet,
                                           ssl_context=plane._tls)
                self._server_ready_event.set()
                self._server.serve_forever()

        try:
            load_kms(self.directory)
            self._on_change(kms_view())
            self._server = _Server(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
        except BaseException:
            _running.release()
            raise
        host, port = self._server.get_host_and_port()
        return f"https://{host}:{port}"

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        _running.release()

    def persist(self) -> None:
        save_kms(self.directory)
        self._on_change(kms_view())

    def record(self, path: str, status: int, mutating: bool, fault: str = "") -> None:
        self._record(path, status, mutating, fault)
