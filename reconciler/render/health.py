"""A health check's report: a table per region, JSON, or Prometheus's text exposition format.

Reads the health data only (reconciler.plan.health); prometheus-client writes the exposition
format, for node_exporter's textfile collector or a scrape.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.printable import json_visible, visible
from reconciler.plan.health import Health, PathHealth

HEALTH_FORMATS = ("text", "json", "prometheus")


def render_health(health: Health, fmt: str) -> str:
    if fmt == "json":
        return json_visible(json.dumps(health_document(health), indent=2, ensure_ascii=False)) + "\n"
    if fmt == "prometheus":
        return health_exposition(health)
    return health_table(health)


def health_document(health: Health) -> dict[str, Any]:
    return {
        "key_set": health.key_set,
        "status": health.status.label,
        "checked_at": health.checked_at,
        "paths": [_path_document(path) for path in health.paths],
    }


def _path_document(path: PathHealth) -> dict[str, Any]:
    return {"consumer": path.consumer, "kind": path.kind, "region": path.region, "status": path.status.label,
            "findings": [{"address": f.address, "status": f.status.label, "reason": f.reason}
                         for f in path.findings]}


def health_table(health: Health) -> str:
    """The report as text; every line is one line (a reason a cloud gave is shown, escapes and all),
    so that the workflow can quote it in a code block it cannot end."""
    lines: list[str] = []
    for region in sorted({path.region for path in health.paths}):
        lines.append(f"Region {region}")
        paths = [path for path in health.paths if path.region == region]
        width = max(len(path.consumer) for path in paths)
        for path in paths:
            lines.append(f"  {path.consumer:<{width}}  {path.status.label:<7}  {_first_reason(path)}".rstrip())
            lines.extend(f"  {'':<{width}}  {'':<7}  - {visible(f.address)}: {visible(f.reason)}"
                         for f in path.findings[1:])
        lines.append("")
    counts = ", ".join(f"{health.count(status)} {status.label}" for status in sorted(set(_statuses(health))))
    lines.append(f"Health of {health.key_set}: {health.status.label} ({counts or 'no key paths'}).")
    return "\n".join(lines) + "\n"


def _statuses(health: Health) -> list[Any]:
    return [path.status for path in health.paths]


def _first_reason(path: PathHealth) -> str:
    if not path.findings:
        return ""
    first = path.findings[0]
    return f"{visible(first.address)}: {visible(first.reason)}"


def health_exposition(health: Health) -> str:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    status = Gauge("cmkctl_key_path_status", "Health of a consumer's key path: 0 healthy, 1 warning, 2 broken",
                   ["key_set", "region", "consumer", "kind"], registry=registry)
    for path in health.paths:
        status.labels(health.key_set, path.region, path.consumer, path.kind).set(int(path.status))
    paths = Gauge("cmkctl_key_paths", "Key paths by health", ["key_set", "status"], registry=registry)
    for label in ("healthy", "warning", "broken"):
        paths.labels(health.key_set, label).set(sum(1 for p in health.paths if p.status.label == label))
    checked = Gauge("cmkctl_check_timestamp_seconds", "When the check read live state", ["key_set"],
                    registry=registry)
    checked.labels(health.key_set).set(health.checked_at)
    return generate_latest(registry).decode("utf-8")
