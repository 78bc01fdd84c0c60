"""R-REGION: a region's name is one its cloud has, checked offline at validate.

A misspelt region (`eu-centrall-1`, `westeurop`) would otherwise be planned, applied and exported
as if real, or fail deep in a plan; the message names the closest names the cloud has.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Iterator
from importlib import resources

from reconciler.core.errors import Diagnostic
from reconciler.manifest.model import KeySet
from reconciler.providers.aws_regions import aws_regions

REGION_RULE = "R-REGION"


@functools.cache
def azure_locations() -> frozenset[str]:
    """The kept list of Azure locations (its source is named at the head of the file)."""
    text = resources.files(__package__).joinpath("azure_locations.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def unknown_regions(key_set: KeySet, cloud: str, known: Collection[str], what: str) -> Iterator[Diagnostic]:
    """A diagnostic for each region of `cloud` whose name `known` lacks (nothing if the list is empty);
    `what` says what a name must be, and by which list."""
    if not known:
        return
    for region in key_set.regions:
        if region.cloud == cloud and region.name not in known:
            yield region.source.at("name", f"{region.name!r} is not {what}{_close(region.name, known)}", REGION_RULE)


def _close(name: str, known: Collection[str]) -> str:
    near = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""


def unknown_aws_regions(key_set: KeySet) -> Iterator[Diagnostic]:
    return unknown_regions(key_set, "aws", aws_regions(), "an AWS region (by botocore's partition data)")


def unknown_azure_locations(key_set: KeySet) -> Iterator[Diagnostic]:
    return unknown_regions(key_set, "azure", azure_locations(), "an Azure location (by cmkctl's kept list)")
