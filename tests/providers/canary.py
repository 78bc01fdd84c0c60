"""Canaries: the credentials the emulator issues to the provider tests, and every token actually sent;
none may appear in any error."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from cmkctl_sandbox.credentials import Issued
from reconciler.core.secrets import Secret

CANARY = "canary-7d41c2e0a9b84f1e-token"
# The Azure tokens the handlers were handed (JWTs signed with the canary): each a secret as sent.
SENT: list[str] = []


def canary() -> Secret:
    return Secret(CANARY)


def canary_issued() -> Issued:
    """What the emulator issues to the provider tests: the canary wherever a secret goes."""
    return Issued(astra_token=CANARY, confluent_api_key="CANARYKEY", confluent_api_secret=CANARY,
                  aws_access_key_id="AKIACANARY0000000000", aws_secret_access_key=CANARY, azure_signing_key=CANARY)


class Recording:
    """A credential that keeps each token it hands out in SENT."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        token = self._inner.get_token(*scopes, **kwargs)
        SENT.append(token.token)
        return token


def assert_no_canary(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Neither the canary nor a token sent appears in the error, its chained causes, or their tracebacks' text."""
    text = "".join(traceback.format_exception(excinfo.value)) + repr(excinfo.value)
    assert CANARY not in text
    assert not [token for token in SENT if token in text]
