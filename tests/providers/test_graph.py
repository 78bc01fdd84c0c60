"""Contract: service principals against the sandbox's Microsoft Graph."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.errors import ProviderError
from reconciler.providers.registry import Handlers

from .canary import assert_no_canary

APP_ID = "0b8d6b6c-51a2-4c2e-9f0e-6d0f3b0b7a21"
OBJECT_ID = "3c9e1f7a-2d4b-4a8e-b6c0-9e1d2f3a4b5c"


def test_absent_principal_reads_as_none(handlers: Handlers) -> None:
    assert handlers.by_kind["azuread_service_principal"].read(identity={"appId": APP_ID}) is None


def test_created_principal_reads_back(handlers: Handlers, sandbox: Any) -> None:
    principals = handlers.by_kind["azuread_service_principal"]
    created = principals.create(identity={"appId": APP_ID}, attributes={})
    assert created["appId"] == APP_ID
    assert created["objectId"] in sandbox.state["graph"]["servicePrincipals"]
    assert principals.read(identity={"appId": APP_ID}) == created


def test_existing_principal_409_returns_it(handlers: Handlers, sandbox: Any) -> None:
    principals = handlers.by_kind["azuread_service_principal"]
    first = principals.create(identity={"appId": APP_ID}, attributes={})
    second = principals.create(identity={"appId": APP_ID}, attributes={})
    assert second == first
    assert [c["status"] for c in sandbox.calls() if c["method"] == "POST"] == [201, 409]


def test_a_refused_create_never_shows_the_token(handlers: Handlers) -> None:
    with pytest.raises(ProviderError) as excinfo:
        handlers.by_kind["azuread_service_principal"].create(identity={"appId": "not-a-guid"}, attributes={})
    assert_no_canary(excinfo)


@pytest.mark.world({"azure": {"servicePrincipals": [{"appId": APP_ID, "objectId": OBJECT_ID}]}})
def test_principal_made_elsewhere_is_adopted(handlers: Handlers) -> None:
    created = handlers.by_kind["azuread_service_principal"].create(identity={"appId": APP_ID}, attributes={})
    assert created == {"appId": APP_ID, "objectId": OBJECT_ID}
