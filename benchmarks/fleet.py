"""Benchmark: a fleet of 1,000+ objects against the sandbox with 100 ms per request.

    .venv/bin/python benchmarks/fleet.py            # ~4 minutes; prints a markdown table

Generates `fleet.yaml` (every system, 18 Azure and 8 AWS regions, 3 environments; see
fleet_manifest.py) in a fresh directory, then runs the real `cmkctl` as a child process for:
validate, fresh plan, apply, no-op plan, each at the default parallelism and at --parallelism 1,
and `cmkctl --help`; the no-op plan also at --parallelism 16 and 32, the alternatives to the
default. Wall time, CPU time and peak memory (the child's rusage), the sandbox's CPU time, and
the API calls the sandbox journalled (DIR/calls.jsonl), by plane and per declared object, go into
one table.

The sandbox runs as a process of its own (`cmkctl sandbox serve DIR`), started and stopped here,
as a real control plane would be: embedded, its CPU would be charged to cmkctl's GIL.

Bounded: an apply at --parallelism 1 of the whole fleet would take ~5 minutes, so the apply pair
runs on a slice of the fleet (2 Azure regions, 1 AWS region) in a sandbox of its own; the plans
at --parallelism 1 run on the whole fleet.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_manifest import fleet

CMKCTL = [sys.executable, "-m", "reconciler"]
PLANES = ("arm", "graph", "astra", "confluent", "aws")
SERVE_DEADLINE = 120.0  # seconds for a served sandbox to print its key (moto is slow to start)
KEY_VARIABLE = "CMKCTL_SANDBOX_KEY"


@dataclass
class Run:
    name: str
    parallelism: str
    seconds: float
    peak_mb: float
    calls: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    cpu: float = 0.0  # cmkctl's user + system seconds
    sandbox_cpu: float | None = None  # the served sandbox's, over the same run

    def row(self) -> str:
        total = sum(self.calls.values())
        by_plane = ", ".join(f"{p} {self.calls[p]}" for p in PLANES if self.calls.get(p))
        per_object = f"{total / self.objects:.2f}" if self.objects and total else "-"
        sandbox_cpu = f"{self.sandbox_cpu:.1f}" if self.sandbox_cpu is not None else "-"
        return (f"| {self.name} | {self.parallelism} | {self.seconds:.2f} | {self.cpu:.1f} | {sandbox_cpu} | "
                f"{total or '-'} | {by_plane or '-'} | {per_object} | {self.peak_mb:.0f} |")


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and exit code of one cmkctl child process, and its output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([*CMKCTL, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, child.returncode, text


def journal_length(sandbox: Path) -> int:
    path = sandbox / "calls.jsonl"
    return sum(1 for _ in path.open()) if path.exists() else 0


def calls_since(sandbox: Path, start: int) -> dict[str, int]:
    lines = (sandbox / "calls.jsonl").read_text().splitlines()[start:]
    return dict(collections.Counter(json.loads(line)["plane"] for line in lines if line.strip()))


def cpu_seconds(pid: int | None) -> float | None:
    """User + system seconds a live process has used so far (Linux /proc); None when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def measure(name: str, parallelism: str, args: list[str], env: dict[str, str], sandbox: Path | None,
            objects: int, server: int | None = None) -> Run:
    before = journal_length(sandbox) if sandbox else 0
    server_before = cpu_seconds(server) if server else None
    seconds, cpu, peak, code, text = run(args, env)
    if code != 0:
        raise SystemExit(f"{name}: cmkctl exited {code}:\n{text[-3000:]}")
    server_after = cpu_seconds(server) if server else None
    calls = calls_since(sandbox, before) if sandbox else {}
    sandbox_cpu = server_after - server_before if server_after is not None and server_before is not None else None
    return Run(name, parallelism, seconds, peak, calls, objects, cpu, sandbox_cpu)


@contextlib.contextmanager
def served(directory: Path, manifest: Path, env: dict[str, str]) -> Iterator[int]:
    """`cmkctl sandbox serve DIR` for the block (its pid); plan and apply --sandbox DIR join it, `env`
    holding the key it printed (CMKCTL_SANDBOX_KEY) meanwhile."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory.parent / f"{directory.name}-serve.log"
    log = path.open("wb")
    server = subprocess.Popen([*CMKCTL, "sandbox", "serve", str(directory), "-f", str(manifest)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        env[KEY_VARIABLE] = wait_for_key(directory, server, path)
        yield server.pid
    finally:
        env.pop(KEY_VARIABLE, None)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


def wait_for_key(directory: Path, server: subprocess.Popen[bytes], log: Path) -> str:
    """The key the server prints once its endpoints.json is written (a run joins it with nothing else)."""
    deadline = time.monotonic() + SERVE_DEADLINE
    marker = f"export {KEY_VARIABLE}="
    while marker not in (said := log.read_text("utf-8", errors="replace")):
        if server.poll() is not None:
            raise SystemExit(f"cmkctl sandbox serve {directory} exited {server.returncode}; see its -serve.log")
        if time.monotonic() > deadline:
            raise SystemExit(f"cmkctl sandbox serve {directory} printed no key in {SERVE_DEADLINE:g}s")
        time.sleep(0.05)
    return said.split(marker, 1)[1].split()[0]


def count_objects(manifest: Path, env: dict[str, str]) -> int:
    """Managed objects: the steps of a plan (what the manifest declares, expanded), lookups excluded."""
    with tempfile.TemporaryDirectory() as scratch:
        *_, text = run(["plan", "-f", str(manifest), "--sandbox", scratch, "--format", "json"],
                            {**env, "CMKCTL_SANDBOX_LATENCY_MS": "0"})
    steps = json.loads(text)["steps"]
    return sum(1 for s in steps if s["kind"] != "astra_provider_accounts")


def read_floor(latency_ms: float) -> tuple[int, float]:
    """The longest chain of dependent requests a no-op plan must make, and that times the latency.

    Lookups first (their answers decide what is declared), then the longest chain of reads whose
    identity needs another read's output: vault -> key -> Confluent BYOK key -> service principal
    -> role assignment; an AWS key is STS, then DescribeKey, then its policy and rotation. cmkctl
    reads a key in two steps (its vault's list, then the key): a choice of its own, not counted.
    """
    chain = 1 + 5  # lookups, then the five dependent reads of the Confluent chain (or STS + 3 KMS)
    return chain, chain * latency_ms / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--azure-regions", type=int, default=18)
    parser.add_argument("--aws-regions", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--parallelism", default="", help="default: cmkctl's own default")
    parser.add_argument("--directory", type=Path, help="keep the manifests and sandboxes here")
    options = parser.parse_args()
    work = options.directory or Path(tempfile.mkdtemp(prefix="cmkctl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    manifest, slice_manifest = work / "fleet.yaml", work / "slice.yaml"
    manifest.write_text(yaml.safe_dump(fleet(options.azure_regions, options.aws_regions), sort_keys=False))
    slice_manifest.write_text(yaml.safe_dump(fleet(2, 1), sort_keys=False))
    env = {**os.environ, "CMKCTL_SANDBOX_LATENCY_MS": f"{options.latency_ms:g}", "NO_COLOR": "1",
           "CASSANDRA_ADMIN_PASSWORD": "bench-Cassandra-1", "MONGO_ADMIN_PASSWORD": "bench-Mongo-1",
           # cmkctl's own work is measured: the emulator's lags would add every wait's retries.
           "CMKCTL_SANDBOX_FAULTS": "realism: off"}
    # An installed cmkctl runs from compiled bytecode (pip compiles it); a machine that sets this
    # would have every run compile the package anew, which no user's does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    default = ["--parallelism", options.parallelism] if options.parallelism else []
    label = options.parallelism or "default"
    objects, slice_objects = count_objects(manifest, env), count_objects(slice_manifest, env)
    runs = [
        measure("`--help`", "-", ["--help"], env, None, 0),
        measure("validate", "-", ["validate", str(manifest)], env, None, objects),
        *fleet_runs(manifest, work / "sandbox", env, objects, label, default),
        *slice_runs(slice_manifest, work, env, slice_objects, label, default),
    ]
    print(report(runs, objects, slice_objects, options.latency_ms))


def fleet_runs(manifest: Path, sandbox: Path, env: dict[str, str], objects: int, label: str,
               default: list[str]) -> list[Run]:
    """Plans fresh, the apply, then no-op plans, at each parallelism, against one served sandbox."""
    args = ["-f", str(manifest), "--sandbox", str(sandbox)]
    with served(sandbox, manifest, env) as server:
        return [
            measure(name, parallelism, [command, *args, *extra], env, sandbox, objects, server)
            for name, parallelism, command, extra in (
                ("plan, fresh", label, "plan", default),
                ("plan, fresh", "1", "plan", ["--parallelism", "1"]),
                ("apply", label, "apply", ["--auto-approve", *default]),
                ("plan, no-op", label, "plan", default),
                ("plan, no-op", "1", "plan", ["--parallelism", "1"]),
                ("plan, no-op", "16", "plan", ["--parallelism", "16"]),
                ("plan, no-op", "32", "plan", ["--parallelism", "32"]),
            )
        ]


def slice_runs(manifest: Path, work: Path, env: dict[str, str], objects: int, label: str,
               default: list[str]) -> list[Run]:
    """The apply pair, each on a fresh sandbox of its own (a whole-fleet apply at 1 takes ~5 minutes)."""
    runs = []
    for parallelism, extra in ((label, default), ("1", ["--parallelism", "1"])):
        sandbox = work / f"slice-sandbox-{parallelism}"
        args = ["apply", "-f", str(manifest), "--sandbox", str(sandbox), "--auto-approve", *extra]
        with served(sandbox, manifest, env) as server:
            runs.append(measure("apply (slice)", parallelism, args, env, sandbox, objects, server))
    return runs


def report(runs: list[Run], objects: int, slice_objects: int, latency_ms: float) -> str:
    chain, floor = read_floor(latency_ms)
    noop_runs = [r for r in runs if r.name == "plan, no-op"]
    fast = noop_runs[0]  # at the parallelism under test (cmkctl's default unless --parallelism)
    noop = {r.parallelism: r for r in noop_runs[1:]}
    lines = [
        f"{objects} managed objects (slice: {slice_objects}); {latency_ms:g} ms per request on every plane.",
        "",
        "| command | parallelism | wall s | cmkctl CPU s | sandbox CPU s | API calls | by plane | calls per object "
        "| peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
        *(r.row() for r in runs),
        "",
        f"No-op plan: --parallelism 1 / {fast.parallelism} = {noop['1'].seconds / fast.seconds:.1f}x; "
        f"floor = {chain} dependent requests x {latency_ms:g} ms = {floor:.1f} s, "
        f"the plan took {fast.seconds / floor:.1f}x the floor (wall time of the whole command).",
    ]
    for other in ("16", "32"):
        if other in noop and noop[other] is not fast:
            lines.append(f"At --parallelism {other}: {noop['1'].seconds / noop[other].seconds:.1f}x faster than 1, "
                         f"{noop[other].seconds / floor:.1f}x the floor.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
