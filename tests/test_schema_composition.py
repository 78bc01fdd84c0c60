"""The manifest's JSON Schema is composed from the core's part and each plug-in's fragment: a new system
writes its schema in its own package, and the published schema is held equal to the composition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.manifest.schema import compose, core_schema
from reconciler.systems import PLUGINS
from reconciler.systems.astra.schema import FRAGMENT as ASTRA
from tests.conftest import ROOT
from tests.test_vendor_free import VENDOR

PUBLISHED = json.loads((ROOT / "schemas" / "manifest.v1.json").read_text("utf-8"))


def test_the_published_manifest_schema_is_the_composition_of_the_plug_ins_fragments() -> None:
    composed = compose(plugin.schema_fragment for plugin in PLUGINS)
    # On a difference, write the composition out (json.dumps(composed, indent=2)) to schemas/manifest.v1.json.
    assert composed == PUBLISHED


def _names(schema: Any) -> Iterator[str]:
    """Every property and definition name of a schema, descriptions aside."""
    if isinstance(schema, dict):
        for name, value in schema.items():
            if name in ("properties", "$defs"):
                yield from value
            yield from _names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _names(item)


def test_the_core_schema_names_no_vendor_s_block_or_definition() -> None:
    names = set(_names(core_schema()))
    assert {"accounts", "registrations", "vaults", "keys"} <= names
    assert sorted(name for name in names if VENDOR.search(name)) == []


def test_each_plug_in_s_blocks_come_from_its_fragment_only() -> None:
    without = {plugin.name: compose(p.schema_fragment for p in PLUGINS if p is not plugin) for plugin in PLUGINS}
    accounts = without["confluent"]["properties"]["accounts"]["properties"]
    assert "confluent" not in accounts and "astra" in accounts
    assert "mongo" not in without["mongo"]["$defs"]["registration"]["properties"]
    assert "cassandraCluster" not in without["cassandra"]["$defs"]["principal"]["properties"]
    assert "astra" not in without["astra"]["$defs"]["kmsPrincipal"]["properties"]
    assert "astra" not in without["astra"]["$defs"]["awsRegistration"]["properties"]


def test_a_name_two_fragments_define_is_refused() -> None:
    with pytest.raises(ValueError, match="accounts: astra defined twice"):
        compose([ASTRA, ASTRA])


def test_a_fragment_with_an_entry_the_manifest_does_not_compose_is_refused() -> None:
    with pytest.raises(ValueError, match=r"entries the manifest does not compose: \['regions'\]"):
        compose([{"regions": {}}])
