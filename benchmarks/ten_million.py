"""Build and run the benchmark scenario at one size in this process: build time and peak memory.

The question it answers (issue 26): does a 10M-user run with its twin fit one 24 GB machine
(build <= 60 s, peak <= 20 GB)? The scenario is ``abm bench``'s (3 platforms retraining
every step, a strike by 20% of users measured against its twin world every step,
Watts-Strogatz k=8). Users become Mesa agents only when something reads them; pass
``--agents`` to read them once after the build and see what that costs.

    python benchmarks/ten_million.py 10000000 --steps 10
    /usr/bin/time -v python benchmarks/ten_million.py 10000000 --steps 10   # peak RSS too

Prints one JSON line: build seconds (wall and CPU), seconds per step, CPU of all steps,
agents seconds (if read), peak RSS.
Check ``free -g`` first: the memory estimate (``abm.runner.memory_estimate``) is printed
before anything is built.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np


def main() -> None:
    """Run one size and print its numbers."""
    from abm.agents import User
    from abm.bench import bench_scenario
    from abm.model import LeverageModel
    from abm.runner import memory_estimate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", type=int)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--agents", action="store_true", help="read the User agents once")
    args = parser.parse_args()
    scenario = bench_scenario(args.users, steps=args.steps)
    print(f"estimate {memory_estimate(scenario) / 2**30:.1f} GiB", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    model = LeverageModel(scenario=scenario)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    agents = None
    if args.agents:
        t0 = time.perf_counter()
        assert len(model.agents_by_type[User]) == model.n_users
        agents = time.perf_counter() - t0
    times, c0 = [], time.process_time()
    while model.running:
        t0 = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t0)
    steps_cpu = time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(json.dumps({"n_users": args.users, "steps": len(times), "build_s": round(build, 2),
                      "build_cpu_s": round(build_cpu, 2), "steps_cpu_s": round(steps_cpu, 1),
                      "s_per_step": round(float(np.median(times)), 3),
                      "run_s": round(build + sum(times), 1), "agents_s": agents,
                      "peak_rss_gib": round(peak, 2), "twins": len(model.twins)}))  # fmt: skip


if __name__ == "__main__":
    main()
