"""A token canary: a secret the tests hand to every handler and look for in every error."""

from __future__ import annotations

import traceback

import pytest

from reconciler.core.secrets import Secret

CANARY = "canary-7d41c2e0a9b84f1e-token"


def canary() -> Secret:
    return Secret(CANARY)


def assert_no_canary(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """The token appears nowhere in the error, its chained causes, or their tracebacks' text."""
    text = "".join(traceback.format_exception(excinfo.value))
    assert CANARY not in text
    assert CANARY not in repr(excinfo.value)
