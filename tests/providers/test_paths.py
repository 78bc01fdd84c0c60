"""Values reach request paths only as encoded segments: none can add a segment, a query or a fragment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from reconciler.core.errors import ProviderError
from reconciler.providers.azure_authorization import RoleAssignmentHandler
from reconciler.providers.cache import RunCache
from reconciler.providers.paths import resource_id, segment

SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
VNETS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/cassandra-prod/providers/Microsoft.Network/virtualNetworks"
ROLE = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"
PRINCIPAL = "59e617e5-e447-4adc-8b88-00af644d7c92"


@pytest.mark.parametrize(("value", "encoded"), [
    ("plain-name_1.2", "plain-name_1.2"),
    ("a/b", "a%2Fb"),
    ("v?x=1", "v%3Fx%3D1"),
    ("v#frag", "v%23frag"),
    ("%2F..", "%252F.."),  # an encoding of its own is encoded again: the server sees the characters written
    ("rg(prod)", "rg%28prod%29"),
])
def test_a_segment_is_encoded_whole(value: str, encoded: str) -> None:
    assert segment(value, "name", plane="arm") == encoded


@pytest.mark.parametrize("value", ["..", ".", ""])
def test_dot_segments_are_refused_since_no_encoding_hides_them(value: str) -> None:
    with pytest.raises(ProviderError, match="cannot be one segment"):
        segment(value, "name", plane="arm")


def test_a_resource_id_keeps_its_slashes_and_encodes_each_segment() -> None:
    assert resource_id(f"{VNETS}/v#frag/", "scope", plane="arm") == f"{VNETS}/v%23frag"
    for hostile in (f"{VNETS}/..", f"{VNETS}//v", "subscriptions/x"):
        with pytest.raises(ProviderError):
            resource_id(hostile, "scope", plane="arm")


class _FixedToken:
    """A TokenCredential that hands out one token: the request never leaves the process anyway."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("token", 2**31 - 1)


class Sent(Exception):
    """Stops a request at the transport: nothing leaves the process."""


def _handler(urls: list[str]) -> RoleAssignmentHandler:
    from azure.core.pipeline.transport import RequestsTransport
    from azure.mgmt.authorization.v2022_04_01 import AuthorizationManagementClient

    class Capturing(RequestsTransport):
        def send(self, request: Any, **kwargs: Any) -> Any:
            urls.append(request.url)
            raise Sent

    class Session:
        lists = RunCache()

        def check_subscription(self, subscription: str) -> str:
            return subscription

        def default_subscription(self) -> str:
            return SUBSCRIPTION

        def client(self, client_class: str, subscription: str) -> Any:
            return AuthorizationManagementClient(_FixedToken(), subscription,
                                                 base_url="https://management.azure.com", transport=Capturing())

    return RoleAssignmentHandler(Session())  # type: ignore[arg-type]


@pytest.mark.parametrize("vnet", ["v#frag", "v?api-version=1", "%2F..", "a b"])
def test_a_hostile_scope_segment_cannot_move_a_role_assignment(vnet: str) -> None:
    urls: list[str] = []
    handler = _handler(urls)
    identity = {"scope": f"{VNETS}/{vnet}", "roleDefinitionId": ROLE, "principalId": PRINCIPAL}
    with pytest.raises(Sent):
        handler.create(identity=identity, attributes={"principalType": "ServicePrincipal"})
    with pytest.raises(Sent):
        handler.read(identity=identity)
    put, listed = (urlsplit(url) for url in urls)
    for sent_to in (put, listed):
        assert not sent_to.fragment
        assert sent_to.path.startswith(f"{VNETS}/{segment(vnet, 'vnet', plane='arm')}/providers/"
                                       "Microsoft.Authorization/roleAssignments"), sent_to.path
    assert put.path.count("/") == listed.path.count("/") + 1  # the assignment's own name, and nothing more
    assert dict(part.split("=", 1) for part in put.query.split("&")) == {"api-version": "2022-04-01"}


def test_a_dot_segment_in_a_scope_is_refused_before_anything_is_sent() -> None:
    urls: list[str] = []
    handler = _handler(urls)
    identity = {"scope": f"{VNETS}/..", "roleDefinitionId": ROLE, "principalId": PRINCIPAL}
    with pytest.raises(ProviderError, match="cannot be one segment"):
        handler.create(identity=identity, attributes={})
    assert urls == []
