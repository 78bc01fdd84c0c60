#!/usr/bin/env python3
"""Soak: many applies under injected faults and random SIGKILLs, then a census of the sandbox.

Not a test: a measurement whose figures go in the README. Each cycle generates a multi-system
manifest (a seeded subset of the regions of manifests/examples/all-systems.yaml, under its own key
set name), starts a fresh sandbox with `transient: RATE` faults on every plane, and runs real
`cmkctl apply` processes until one finishes on its own. Each apply is, with probability --kill-rate,
SIGKILLed right after a random mutating call (the sandbox's halt hook). Then, faults off, a plan must
be empty and the sandbox must hold exactly the declared objects, one of each (census by kind).

    .venv/bin/python benchmarks/soak.py --applies 200 --fault-rate 0.2 --kill-rate 0.4

Prints: applies run, kills, faults injected (by kind), objects checked, discrepancies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cmkctl_sandbox.census import census, declared, discrepancies  # noqa: E402
from cmkctl_sandbox.halt import HALT_MARKER, HALT_VARIABLE  # noqa: E402
from cmkctl_sandbox.state import read_calls  # noqa: E402
from cmkctl_sandbox.world import load_state  # noqa: E402

TEMPLATE = ROOT / "manifests" / "examples" / "all-systems.yaml"
ENV = {**os.environ, "CASSANDRA_ADMIN_PASSWORD": "soak-cassandra-pw", "MONGO_ADMIN_PASSWORD": "soak-mongo-pw"}
MAX_APPLIES_PER_CYCLE = 12


@dataclass
class Totals:
    cycles: int = 0
    applies: int = 0
    kills: int = 0
    failed_applies: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    finishing: int = 0
    discrepancies: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def generate_manifest(rng: random.Random, name: str) -> str:
    """A key set over a random non-empty subset of the template's regions."""
    document = yaml.safe_load(TEMPLATE.read_text("utf-8"))
    regions = document["regions"]
    chosen = [r for r in regions if rng.random() < 0.7] or [rng.choice(regions)]
    document["regions"] = chosen
    document["metadata"]["name"] = name
    return yaml.safe_dump(document, sort_keys=False)


def cmkctl(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *map(str, args)], env=env or ENV, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def apply_once(manifest: Path, sandbox: Path, kill_after: int | None) -> tuple[bool, int]:
    """One apply; (killed, exit code). Killed right after its kill_after-th mutating call, if it gets there."""
    env = dict(ENV)
    if kill_after is not None:
        env[HALT_VARIABLE] = f"mutation:{kill_after}"
    process = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(manifest), "--sandbox",
                                str(sandbox), "--auto-approve"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = sandbox / HALT_MARKER
    while process.poll() is None:
        if marker.exists():
            process.send_signal(signal.SIGKILL)
            process.wait()
            marker.unlink()
            return True, -9
        time.sleep(0.02)
    return False, process.returncode


def cycle(index: int, base: Path, args: argparse.Namespace, totals: Totals) -> None:
    with totals.lock:
        if totals.applies >= args.applies:
            return
    rng = random.Random(args.seed * 1_000_003 + index)
    work = base / f"cycle-{index:04d}"
    sandbox = work / "sandbox"
    sandbox.mkdir(parents=True)
    manifest = work / "manifest.yaml"
    manifest.write_text(generate_manifest(rng, f"soak-{index}"), "utf-8")
    (sandbox / "faults.yaml").write_text(yaml.safe_dump({"seed": rng.randrange(2**31), "all": {
        "transient": args.fault_rate, "timeout": {"rate": args.fault_rate / 5, "ms": 0}, "lro": {"polls": 1}}}))
    applies = kills = failed = 0
    converged = False
    while applies < MAX_APPLIES_PER_CYCLE:
        with totals.lock:
            if totals.applies >= args.applies:
                break
            totals.applies += 1
        applies += 1
        kill_after = rng.randint(1, 40) if rng.random() < args.kill_rate else None
        killed, code = apply_once(manifest, sandbox, kill_after)
        kills += killed
        converged = not killed and code == 0
        if converged:
            break
        failed += (not killed and code != 0)
    faults = Counter(c["fault"] for c in read_calls(sandbox) if c.get("fault"))
    (sandbox / "faults.yaml").unlink()
    problems = check(manifest, sandbox, index, finish=not converged)
    with totals.lock:
        totals.cycles += 1
        totals.kills += kills
        totals.finishing += not converged
        totals.failed_applies += failed
        totals.faults.update(faults)
        totals.objects += problems[0]
        totals.discrepancies += problems[1]
    if args.verbose:
        print(f"cycle {index}: {applies} applies, {kills} kills, {sum(faults.values())} faults, "
              f"{problems[0]} objects, {len(problems[1])} discrepancies", flush=True)


def check(manifest: Path, sandbox: Path, index: int, *, finish: bool) -> tuple[int, list[str]]:
    """(objects checked, discrepancies): the plan is empty and the census matches it.

    A cycle that ran out of applies before one finished on its own gets one more, without faults
    or kills (that is what a user does after a crash)."""
    problems = []
    if finish:
        rerun = cmkctl("apply", "-f", manifest, "--sandbox", sandbox, "--auto-approve")
        if rerun.returncode:
            problems.append(f"cycle {index}: the finishing apply failed: {rerun.stderr.strip()[-500:]}")
    plan = cmkctl("plan", "-f", manifest, "--sandbox", sandbox, "--format", "json", "--detailed-exitcode")
    if plan.returncode not in (0, 2):
        return 0, [*problems, f"cycle {index}: plan failed: {plan.stderr.strip()[-500:]}"]
    document = json.loads(plan.stdout)
    if plan.returncode == 2:
        problems.append(f"cycle {index}: the plan after the applies is not empty")
    expected = declared(document)
    problems += [f"cycle {index}: {d}" for d in discrepancies(expected, census(load_state(sandbox)))]
    return sum(expected.values()), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applies", type=int, default=200, help="applies to run in all (default 200)")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="transient fault rate per plane (default 0.2)")
    parser.add_argument("--kill-rate", type=float, default=0.4, help="share of applies SIGKILLed (default 0.4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1))
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes (printed path)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="cmkctl-soak-"))
    totals = Totals()
    started = time.monotonic()
    index = 0
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = []
        # Enough cycles to use up the applies; each cycle stops early once they are spent.
        while index < args.applies:
            futures.append(pool.submit(cycle, index, base, args, totals))
            index += 1
        for future in futures:
            future.result()
    elapsed = time.monotonic() - started
    print(f"applies run:        {totals.applies} ({totals.cycles} key sets, each applied until one apply finished "
          f"on its own; {totals.finishing} finished by one more apply without faults)")
    print(f"applies killed:     {totals.kills} (SIGKILL right after a random mutating call)")
    print(f"applies failed:     {totals.failed_applies} (exit 1 under faults; finished by the next apply)")
    print(f"faults injected:    {sum(totals.faults.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(totals.faults.items()))})")
    print(f"objects checked:    {totals.objects}")
    print(f"discrepancies:      {len(totals.discrepancies)}")
    for line in totals.discrepancies:
        print(f"  {line}")
    print(f"wall time:          {elapsed:.0f}s, {args.workers} workers, fault rate {args.fault_rate}, "
          f"kill rate {args.kill_rate}, seed {args.seed}")
    if args.keep:
        print(f"sandboxes in {base}")
    else:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 1 if totals.discrepancies else 0


if __name__ == "__main__":
    sys.exit(main())
