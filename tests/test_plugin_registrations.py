"""A registration block is resolved by the plug-in that declares it for the region's cloud, so one
service's block can be one plug-in's on Azure and another's on AWS, each in its own package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.manifest.context import ResolveContext
from reconciler.manifest.model import Registration
from reconciler.manifest.resolve import resolve_key_set
from reconciler.manifest.yamlsource import Document, JsonPath
from reconciler.plugins.base import Plugin
from reconciler.plugins.table import PluginTable


@dataclass(frozen=True)
class Resolved(Registration):
    by: str


class Block(Plugin):
    registration_key = "service"

    def __init__(self, name: str, clouds: frozenset[str]) -> None:
        self.name = name
        self.registration_clouds = clouds

    def resolve_registration(self, context: ResolveContext, region: str, path: JsonPath,
                             raw: Mapping[str, Any]) -> Registration | None:
        return Resolved(region, context.source(path), by=self.name)


def _document() -> Document:
    data = {"apiVersion": "cmkctl/v1", "kind": "KeySet", "metadata": {"name": "k"},
            "regions": [{"name": "eastus", "cloud": "azure", "registrations": [{"service": {}}]},
                        {"name": "us-east-2", "cloud": "aws", "registrations": [{"service": {}}]}]}
    return Document("k.yaml", data)


def test_each_cloud_s_block_goes_to_the_plug_in_declared_for_that_cloud() -> None:
    table = PluginTable((Block("on-azure", frozenset({"azure"})), Block("on-aws", frozenset({"aws"}))))
    key_set, problems = resolve_key_set(_document(), list(table))
    assert problems == [] and key_set is not None
    assert [(r.name, [g.by for g in r.registrations]) for r in key_set.regions] == [
        ("eastus", ["on-azure"]), ("us-east-2", ["on-aws"])]


def test_two_plug_ins_resolving_one_block_in_the_same_cloud_are_refused() -> None:
    with pytest.raises(ValueError, match="plug-ins everywhere and on-aws both resolve 'service' registrations in aws"):
        PluginTable((Block("everywhere", frozenset()), Block("on-aws", frozenset({"aws"}))))
