"""AWS Signature Version 4, checked as AWS checks it: the request's signature recomputed with the
secret the emulator issued for the access key it names (AWS General Reference, "Signature Version 4
signing process": canonical request, string to sign, derived signing key).

moto answers whatever signs its requests; the emulator's AWS plane checks them first, so that a run
presenting any other credential (a real one from the environment) is refused as AWS would refuse it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any
from urllib.parse import parse_qsl, quote

from cmkctl_sandbox.credentials import Issued

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<scope>[^,\s]+),\s*SignedHeaders=(?P<headers>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$")


def _header(environ: dict[str, Any], name: str) -> str:
    if name in ("content-type", "content-length"):
        value = environ.get(name.upper().replace("-", "_"), "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(str(value).split())


def _canonical_query(query: str) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def problem(environ: dict[str, Any], body: bytes, issued: Issued) -> tuple[str, str] | None:
    """Why the request is refused, as AWS's error code and message; None when it is signed with the
    issued credentials."""
    found = _AUTHORIZATION.match(str(environ.get("HTTP_AUTHORIZATION", "")).strip())
    if found is None:
        return "MissingAuthenticationToken", "Request is missing Authentication Token"
    if not hmac.compare_digest(found["key"], issued.aws_access_key_id):
        return "UnrecognizedClientException", "The security token included in the request is invalid."
    signed = found["headers"].split(";")
    canonical = "\n".join([
        str(environ.get("REQUEST_METHOD", "")),
        quote(str(environ.get("PATH_INFO", "/")) or "/", safe="/~"),
        _canonical_query(str(environ.get("QUERY_STRING", ""))),
        "".join(f"{name}:{_header(environ, name)}\n" for name in signed),
        found["headers"],
        hashlib.sha256(body).hexdigest(),
    ])
    date, _, _ = found["scope"].partition("/")
    string_to_sign = "\n".join([ALGORITHM, _header(environ, "x-amz-date"), found["scope"],
                                hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + issued.aws_secret_access_key).encode()
    for part in found["scope"].split("/"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not date or not hmac.compare_digest(expected, found["signature"]):
        return ("InvalidSignatureException", "The request signature we calculated does not match the signature "
                "you provided. Check your AWS Secret Access Key and signing method.")
    return None
