"""Benchmark: how plan and check grow with the fleet, at ~1,000, ~3,000 and ~10,000 objects.

    .venv/bin/python benchmarks/scale.py            # ~15 minutes on 2 cores; prints a markdown table

For each size, a fleet manifest (fleet_manifest.py: more regions, then more environments per
region) is applied to a sandbox served as its own process (`cmkctl sandbox serve`, started and
stopped here), then planned (a no-op plan) and checked (`cmkctl check`) by the real `cmkctl` as a
child process. Wall time, CPU time and peak RSS (the child's rusage), and the calls the sandbox
journalled, by plane and per declared object, go into one table; the last lines state the growth
from one size to the next, per object.

The sandbox keeps its state in memory until it stops (CMKCTL_SANDBOX_SAVE_ON_STOP=1): saving a
~10 MB state after each of an apply's ~20,000 changes would measure the emulator, not cmkctl.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet import Run, count_objects, measure, served
from fleet_manifest import fleet

# (Azure regions, AWS regions, environments per Azure region) -> ~1,100, ~3,000 and ~10,000 objects.
SIZES = {"1k": (18, 8, 3), "3k": (27, 10, 6), "10k": (27, 10, 21)}
MEMORY_LIMIT_MB = 300  # README: the 10,000-object no-op plan stays under it


def size_runs(name: str, shape: tuple[int, int, int], work: Path, env: dict[str, str]) -> list[tuple[str, Run]]:
    manifest = work / f"fleet-{name}.yaml"
    manifest.write_text(yaml.safe_dump(fleet(*shape), sort_keys=False))
    objects = count_objects(manifest, env)
    sandbox = work / f"sandbox-{name}"
    args = ["-f", str(manifest), "--sandbox", str(sandbox)]
    with served(sandbox, manifest, env) as server:
        return [(name, measure(label, "default", [command, *args, *extra], env, sandbox, objects, server))
                for label, command, extra in (("apply", "apply", ["--auto-approve"]), ("plan, no-op", "plan", []),
                                              ("check", "check", []))]


def report(rows: list[tuple[str, Run]], latency_ms: float) -> str:
    lines = [f"{latency_ms:g} ms per request on every plane; parallelism 64 (the default).", "",
             "| fleet | objects | command | wall s | cmkctl CPU s | API calls | calls per object | peak MB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, run in rows:
        total = sum(run.calls.values())
        lines.append(f"| {name} | {run.objects} | {run.name} | {run.seconds:.2f} | {run.cpu:.1f} | {total} | "
                     f"{total / run.objects:.2f} | {run.peak_mb:.0f} |")
    lines.append("")
    lines.extend(growth(rows))
    return "\n".join(lines)


def growth(rows: list[tuple[str, Run]]) -> list[str]:
    """Per command, from each size to the next: how objects, wall time, calls and memory grew."""
    said = []
    for command in ("plan, no-op", "check"):
        runs = [run for _, run in rows if run.name == command]
        for small, large in itertools.pairwise(runs):
            said.append(f"{command}: {small.objects} -> {large.objects} objects "
                        f"(x{large.objects / small.objects:.1f}): "
                        f"wall x{large.seconds / small.seconds:.1f}, calls "
                        f"x{sum(large.calls.values()) / sum(small.calls.values()):.1f}, "
                        f"peak memory x{large.peak_mb / small.peak_mb:.1f}")
    largest = [run for _, run in rows if run.name == "plan, no-op"][-1]
    verdict = "under" if largest.peak_mb < MEMORY_LIMIT_MB else "OVER"
    said.append(f"The {largest.objects}-object no-op plan peaked at {largest.peak_mb:.0f} MB: {verdict} "
                f"{MEMORY_LIMIT_MB} MB.")
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"some of {', '.join(SIZES)}")
    parser.add_argument("--directory", type=Path, help="keep the manifests and sandboxes here")
    options = parser.parse_args()
    work = options.directory or Path(tempfile.mkdtemp(prefix="cmkctl-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CMKCTL_SANDBOX_LATENCY_MS": f"{options.latency_ms:g}", "NO_COLOR": "1",
           "CMKCTL_SANDBOX_SAVE_ON_STOP": "1",
           "CASSANDRA_ADMIN_PASSWORD": "bench-Cassandra-1", "MONGO_ADMIN_PASSWORD": "bench-Mongo-1",
           # cmkctl's own work is measured: the emulator's lags would add every wait's retries.
           "CMKCTL_SANDBOX_FAULTS": "realism: off"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed cmkctl runs from compiled bytecode
    rows = [row for name in options.sizes.split(",") for row in size_runs(name, SIZES[name], work, env)]
    print(report(rows, options.latency_ms))


if __name__ == "__main__":
    main()
