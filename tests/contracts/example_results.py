"""What each replayed example shows: passes, pending another change, or wrong at its source.

PENDING lists the cases a change on another branch of issue 20 will make pass; each is run as a strict
xfail, so the first run after that change is merged fails until its entry is deleted here. KNOWN_WRONG
lists examples that contradict themselves or their definition, with the check that they still do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.contracts.vendor_examples import Example

# (example file, direction) -> why it differs today and which change fixes it. Direction "a": the
# example's response served to cmkctl's read path; "b": its request sent to the emulator.
ITEM_4 = ("issue 20 item 4 (S2b, the vault read path): a vault answer without enableRbacAuthorization is read as "
          "RBAC, so an access-policy vault plans a false update")
PENDING: dict[tuple[str, str], str] = {
    **{(file, "a"): ITEM_4 for file in ("getVault.json", "listVaultByResourceGroup.json", "listVaultBySubscription.json",
                                        "createVault.json", "createVaultWithNetworkAcls.json", "updateVault.json")},
}

# Examples wrong at their source: why, and a check that holds while they still are.
KNOWN_WRONG: dict[str, tuple[str, Callable[[Example], bool]]] = {}


def marks(file: str, direction: str) -> list[Any]:
    why = PENDING.get((file, direction))
    return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"pending: {why}")] if why else []


def result(file: str, direction: str) -> str:
    why = PENDING.get((file, direction))
    return f"pending: {why}" if why else "passes"
