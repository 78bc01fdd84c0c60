"""The registry: every kind, lazily; https only; no azure import until Azure is used."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.core.errors import ProviderError
from reconciler.core.retry import RetryPolicy
from reconciler.manifest.model import Accounts
from reconciler.plan.model import Action, Step
from reconciler.plugins import PlanRun
from reconciler.providers.astra import AstraClient, RegistrationHandler
from reconciler.providers.base import Connection, Endpoints
from reconciler.providers.registry import build_handlers
from reconciler.systems import PLUGINS
from reconciler.systems.astra.planning import database_notices


def test_every_kind_has_a_handler_named_for_it() -> None:
    with build_handlers(Connection(endpoints=Endpoints()), Accounts(blocks={"astra": {"organizationId": "o"}}), PLUGINS) as handlers:
        assert set(handlers.by_kind) == set(PLUGINS.kinds)
        assert all(handler.kind == kind for kind, handler in handlers.by_kind.items())
        assert isinstance(handlers.clients.planes["astra"], AstraClient)


class _Unlisted(RegistrationHandler):
    def databases(self, cloud: str, region: str) -> list[dict[str, Any]]:
        raise AssertionError("must not be called")


def test_no_astra_database_listing_without_an_organization() -> None:
    # Astra's notice on databases already deployed is asked only of a key set naming its organization.
    with build_handlers(Connection(endpoints=Endpoints()), Accounts(), PLUGINS) as handlers:
        registrations = _Unlisted(handlers.clients.planes["astra"], organization_id=None)
        new = Step("astra_registration.eastus.serverless", "astra_registration", "eastus", Action.CREATE,
                   {"cloud": "azure"}, {})
        run = PlanRun(SimpleNamespace(accounts=Accounts()), {"astra_registration": registrations},  # type: ignore[arg-type]
                      RetryPolicy(), 1)
        assert database_notices([new], run) == []


@pytest.mark.parametrize("plane", ["arm", "graph", "astra"])
def test_plain_http_endpoints_are_refused(plane: str) -> None:
    endpoints = (Endpoints(**{plane: "http://127.0.0.1:8080"}) if plane in ("arm", "graph")
                 else Endpoints(planes={plane: "http://127.0.0.1:8080"}))
    with pytest.raises(ProviderError, match="not https"):
        build_handlers(Connection(endpoints=endpoints), Accounts(), PLUGINS)


def test_building_handlers_imports_no_cloud_sdk() -> None:
    code = (
        "import sys\n"
        "from reconciler.providers.base import Connection, Endpoints\n"
        "from reconciler.manifest.model import Accounts\n"
        "from reconciler.providers.registry import build_handlers\n"
        "from reconciler.systems import PLUGINS\n"
        "connection = Connection(endpoints=Endpoints())\n"
        "handlers = build_handlers(connection, Accounts(azure_subscription_id='s', blocks={'astra': {'organizationId': 'o'}}), PLUGINS)\n"
        "handlers.close()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'boto3', 'botocore'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
