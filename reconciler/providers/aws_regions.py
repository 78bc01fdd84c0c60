"""The AWS regions botocore knows, read from its partition data without importing botocore.

`cmkctl validate` loads no cloud SDK (it must start fast and needs none), so the file botocore
ships (`botocore/data/endpoints.json`: every partition, `regions` by name) is found through the
import system's finder and read as JSON; nothing of botocore runs.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ...) in the installed botocore."""
    spec = importlib.util.find_spec("botocore")
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders:
        return frozenset()
    data = json.loads((Path(next(iter(folders))) / "data" / "endpoints.json").read_text(encoding="utf-8"))
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])
