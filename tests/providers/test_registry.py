"""The registry: every kind, lazily; https only; no azure import until Azure is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reconciler.core.errors import ProviderError
from reconciler.providers.base import Connection, Endpoints
from reconciler.providers.registry import build_handlers
from reconciler.systems import PLUGINS


def test_every_kind_has_a_handler_named_for_it() -> None:
    with build_handlers(Connection(endpoints=Endpoints()), subscription_id=None, organization_id="o") as handlers:
        assert set(handlers.by_kind) == set(PLUGINS.kinds)
        assert all(handler.kind == kind for kind, handler in handlers.by_kind.items())
        assert handlers.astra is not None


def test_no_astra_client_without_an_organization() -> None:
    with build_handlers(Connection(endpoints=Endpoints()), subscription_id=None, organization_id=None) as handlers:
        assert handlers.astra is None


@pytest.mark.parametrize("plane", ["arm", "graph", "astra"])
def test_plain_http_endpoints_are_refused(plane: str) -> None:
    endpoints = Endpoints(**{plane: "http://127.0.0.1:8080"})
    with pytest.raises(ProviderError, match="not https"):
        build_handlers(Connection(endpoints=endpoints), subscription_id=None, organization_id=None)


def test_building_handlers_imports_no_cloud_sdk() -> None:
    code = (
        "import sys\n"
        "from reconciler.providers.base import Connection, Endpoints\n"
        "from reconciler.providers.registry import build_handlers\n"
        "connection = Connection(endpoints=Endpoints())\n"
        "handlers = build_handlers(connection, subscription_id='s', organization_id='o')\n"
        "handlers.close()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'boto3', 'botocore'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
