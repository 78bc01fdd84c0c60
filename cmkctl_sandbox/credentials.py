"""The credentials an emulator issues when it starts, and how each plane checks them.

A run against the emulator presents these, never the user's own (a sandbox run sends no real
credential anywhere): new random values at every start, unless the caller hands the emulator some
(a test issuing canaries, to show that no credential it sends is ever shown).

- Azure (ARM, Graph, Key Vault's data plane): tokens shaped as Entra ID's access tokens, JWTs whose
  `aud` is the resource the client asked for (the scope without `/.default`), signed HS256 with the
  issued signing key. The planes check the signature and the audience: Key Vault's data plane
  answers a token for another audience `AKV10022: Invalid audience` (as Key Vault does, see
  keyvault_data.py).
- Astra: a bearer token, compared whole.
- Confluent: an API key and secret, HTTP Basic.
- AWS: an access key ID and secret; the requests' Signature Version 4 is checked with them (aws.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from cmkctl_sandbox.ids import CALLER_OBJECT_ID

ISSUER = "https://sts.cmkctl-sandbox.invalid/"
TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class Issued:
    astra_token: str
    confluent_api_key: str
    confluent_api_secret: str
    aws_access_key_id: str
    aws_secret_access_key: str
    azure_signing_key: str

    def __repr__(self) -> str:
        return "Issued(***)"

    @staticmethod
    def random() -> Issued:
        def fresh(prefix: str = "") -> str:
            return prefix + secrets.token_urlsafe(24)

        # An access key ID looks like AWS's (AKIA + 16 upper-case letters and digits).
        key_id = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        return Issued(astra_token=fresh("AstraCS:sandbox:"), confluent_api_key=fresh("SANDBOX"),
                      confluent_api_secret=fresh(), aws_access_key_id=key_id, aws_secret_access_key=fresh(),
                      azure_signing_key=fresh())

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @staticmethod
    def from_json(document: Any) -> Issued:
        if not isinstance(document, dict):
            raise ValueError("issued credentials must be a JSON object")
        return Issued(**{name: str(document[name]) for name in Issued.__dataclass_fields__})

    def azure_credential(self) -> IssuedAzureCredential:
        return IssuedAzureCredential(self.azure_signing_key)


class AccessToken(NamedTuple):
    """What an azure-core TokenCredential's `get_token` returns: the token and its expiry (epoch seconds)."""

    token: str
    expires_on: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(signing_key: str, signed: str) -> str:
    return _b64(hmac.new(signing_key.encode(), signed.encode(), hashlib.sha256).digest())


class IssuedAzureCredential:
    """An azure-core TokenCredential (structurally: `get_token(*scopes)`) minting the emulator's tokens.

    Each token names its principal in `oid`, as Entra ID's access tokens do: the caller whose grants
    Key Vault's data plane checks (data_access.py)."""

    def __init__(self, signing_key: str) -> None:
        self._signing_key = signing_key

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        issued_at = int(time.time())
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"aud": audience, "iss": ISSUER, "iat": issued_at, "oid": CALLER_OBJECT_ID,
                                  "exp": issued_at + TOKEN_LIFETIME}).encode())
        signed = f"{header}.{claims}"
        return AccessToken(f"{signed}.{_signature(self._signing_key, signed)}", issued_at + TOKEN_LIFETIME)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "IssuedAzureCredential(***)"


def bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_audience(token: str, signing_key: str) -> str | None:
    """The `aud` of a token this emulator signed; None when it is not one (absent, malformed, forged).

    The lifetime is not checked: the emulator's clock runs ahead of the wall clock (see clock.py)
    and a token's expiry is the client library's concern.
    """
    parts = token.split(".")
    if len(parts) != 3 or not hmac.compare_digest(parts[2], _signature(signing_key, f"{parts[0]}.{parts[1]}")):
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        return None
    audience = claims.get("aud") if isinstance(claims, dict) else None
    return str(audience).rstrip("/") if isinstance(audience, str) else None


def token_object_id(token: str) -> str:
    """The `oid` of a token already verified (the principal the token speaks for), or ''."""
    parts = token.split(".")
    try:
        claims = json.loads(_unb64(parts[1])) if len(parts) == 3 else {}
    except (ValueError, binascii.Error):
        return ""
    return str(claims.get("oid", "")) if isinstance(claims, dict) else ""


def unverified_audience(token: str) -> str:
    """The `aud` a JWT claims, unverified: for the error message of a wrong audience."""
    parts = token.split(".")
    try:
        claims = json.loads(_unb64(parts[1])) if len(parts) == 3 else {}
    except (ValueError, binascii.Error):
        return ""
    audience = claims.get("aud", "") if isinstance(claims, dict) else ""
    return str(audience).rstrip("/")


def same_secret(given: str, issued: str) -> bool:
    return hmac.compare_digest(given.encode(), issued.encode())


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, secret
