"""The performance benchmark: the vectorised model against a naive per-agent Mesa reference.

Modelling assumption of the benchmark scenario: 3 platforms retraining every step
(incremental logistic learners on the digits task, or with ``--task stream`` on the
generative stream task, where every contribution is a fresh row), one strike collective of a fifth
of the users targeting the largest platform from step 0, a Watts-Strogatz network of
mean degree 8, and 0.1 samples per user per step. Leverage is measured every step
against the collective's twin world, which runs the first five phases in lockstep
(its share of the step is the ``twins`` column; ``twin_phase_share`` in the JSON splits
it by phase); the agent table is taken only at the end.

Each population size runs in a fresh subprocess, one after another, so build time and
peak memory (``ru_maxrss``) belong to that size alone. The naive reference (the users'
phase written as ordinary per-agent Mesa code, ``benchmarks/naive.py``) runs in its own
subprocess in the same invocation, so ratios compare numbers measured side by side.
The naive reference does only the users' decisions while the model's step also routes
data, retrains three learners and collects series: ``ratio_vs_naive`` (naive users'
phase over the whole vectorised step) therefore understates the speed-up;
``ratio_users_phase`` compares like with like.

Timings depend on the machine and its load; nothing here asserts a timing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from abm.messages import printable
from abm.scenario import Scenario, validate

DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
NAIVE_MAX = 100_000  # the naive reference runs at and below this size
NAIVE_STEPS = 3

# The step's phases and the model methods that make them (see LeverageModel.step).
PHASES: dict[str, tuple[str, ...]] = {
    "campaigns": ("fire_events", "update_campaigns"),
    "users": ("decide_actions", "choose_platforms"),
    "data": ("apply_deletions", "route_data"),
    "retrain": ("retrain", "book_revenue"),
    "leverage": ("measure_leverage", "bargain"),
    "collect": ("collect",),
}


TASKS = ("digits", "stream")  # what ``abm bench --task`` accepts


def bench_scenario(
    n_users: int, steps: int = 100, seed: int = 0, twins: str = "joint", task: str = "digits"
) -> Scenario:
    """The benchmark scenario at ``n_users`` users (see the module docstring).

    ``task="stream"`` swaps digits for the generative stream task at its defaults
    (64 features, 20 classes): every contribution is a fresh row.
    """
    task = parse_task(task)
    raw = {
        "name": f"bench-{n_users}",
        "seed": seed,
        "steps": steps,
        "population": {"n_users": n_users, "samples_per_step": 0.1},
        "network": {"kind": "watts_strogatz", "mean_degree": 8, "rewire": 0.1},
        "task": {"name": task},
        "platforms": [
            {"name": "incumbent", "initial_share": 0.5, "retrain": "incremental"},
            {"name": "challenger", "initial_share": 0.3, "retrain": "incremental"},
            {"name": "entrant", "initial_share": 0.2, "retrain": "incremental"},
        ],
        "collectives": [
            {"name": "strikers", "target": "incumbent", "lever": "strike", "size": 0.2,
             "start": 0},
        ],
        "measurement": {"twins": twins, "agent_table_every": 0},
    }  # fmt: skip
    return validate(raw, file="<bench>")


def load_naive() -> ModuleType:
    """Import ``benchmarks/naive.py`` from the source checkout."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "naive.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the naive reference is missing (a source checkout)")
    name = "abm_bench_naive"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_sizes(text: str) -> list[int]:
    """Parse ``--sizes`` (comma-separated integers >= 10)."""
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(s < 10 for s in sizes):
        raise ValueError(f"--sizes: expected comma-separated integers >= 10, got '{text}'")
    return sizes


def parse_task(text: str) -> str:
    """Check ``--task`` (one of :data:`TASKS`)."""
    if text not in TASKS:
        raise ValueError(f"--task: expected one of {', '.join(TASKS)}, got '{text}'")
    return text


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _instrument(
    model: Any,
    profile: dict[str, float],
    prefix: str = "",
    clock: Callable[[], float] = time.perf_counter,
    by_method: bool = False,
) -> None:
    """Time each phase of ``model.step`` (each phase method, ``by_method``) by ``clock``.

    Wraps the model's phase methods; the collect phase belongs to the real world only.
    """
    from abm import metrics

    for phase, names in PHASES.items():
        for name in names:
            owner = metrics if name == "collect" else model
            if not hasattr(owner, name) or (owner is metrics and model.real is not None):
                continue
            fn = getattr(owner, name)
            key = prefix + (name if by_method else phase)

            def timed(*args, _fn=fn, _key=key, **kwargs):
                t0 = clock()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    profile[_key] = profile.get(_key, 0.0) + clock() - t0

            setattr(owner, name, timed)


def measure_model(n_users: int, steps: int, seed: int = 0, task: str = "digits") -> dict[str, Any]:
    """Build and run the vectorised model; time the build, each step and each phase."""
    from abm.model import LeverageModel

    scenario = bench_scenario(n_users, steps=steps, seed=seed, task=task)
    t0 = time.perf_counter()
    model = LeverageModel(scenario=scenario)
    build = time.perf_counter() - t0
    profile: dict[str, float] = {}
    _instrument(model, profile)
    for twin in model.twins:
        _instrument(twin, profile, prefix="twin:")
    times = []
    while model.running:
        t = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t)
    total = float(np.sum(times))
    users_s = profile.get("users", 0.0) + profile.get("campaigns", 0.0)
    shares = {k: profile.get(k, 0.0) / total for k in PHASES}
    twin_shares = {k: profile.get("twin:" + k, 0.0) / total for k in PHASES}
    shares["twins"] = sum(twin_shares.values())
    shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    return {
        "n_users": n_users,
        "steps": len(times),
        "s_per_step": float(np.median(times)),
        "mean_s_per_step": total / len(times),
        "users_phase_s_per_step": users_s / len(times),
        "build_s": build,
        "total_s": build + total,
        "peak_rss_mb": _peak_rss_mb(),
        "phase_share": shares,
        "twin_phase_share": twin_shares,
    }


def measure_naive(n_users: int, steps: int, seed: int = 0, task: str = "digits") -> dict[str, Any]:
    """Build the naive reference from the model's initial state and time its steps."""
    from abm.model import LeverageModel

    naive = load_naive()
    model = LeverageModel(scenario=bench_scenario(n_users, steps=steps, seed=seed, task=task))
    quality = np.array([p.quality for p in model.platforms])
    price = np.array([p.price for p in model.platforms])
    t0 = time.perf_counter()
    ref = naive.NaiveModel(model, seed=seed)
    build = time.perf_counter() - t0
    del model
    draw = naive.fresh(np.random.default_rng(seed))
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        ref.step_users(quality, price, draw)
        times.append(time.perf_counter() - t)
    return {"naive_s_per_step": float(np.median(times)), "naive_build_s": build,
            "naive_steps": steps}  # fmt: skip


class BenchFailed(RuntimeError):
    """A benchmark child process failed; ``str(err)`` is one line for the user."""


def _child(kind: str, n_users: int, steps: int, seed: int, task: str) -> dict[str, Any]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "abm.bench", kind, str(n_users), str(steps), str(seed), task]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode < 0:  # killed: at these sizes, nearly always the kernel's OOM killer
        raise BenchFailed(
            f"bench {kind} at {n_users:,} users was killed by signal {-out.returncode}"
            " (out of memory?); try fewer --sizes"
        )
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise BenchFailed(f"bench {kind} at {n_users:,} users failed: {printable(tail)}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def check_sizes(sizes: list[int], steps: int, seed: int = 0, task: str = "digits") -> None:
    """Refuse, before any size runs, a size the schema or this machine's memory refuses.

    Raises:
        ScenarioError: One line naming ``--sizes``, the size, what it needs and how many
            users fit (the pre-run check, :func:`abm.preflight.preflight`).
    """
    from abm.preflight import preflight

    for n in sizes:
        preflight(bench_scenario(n, steps=steps, seed=seed, task=task), "--sizes")


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """Slope of log(seconds per step) against log(users), over sizes >= 10,000 if two."""
    pairs = [(n, s) for n, s in zip(sizes, seconds, strict=True) if n >= 10_000]
    if len(pairs) < 2:
        pairs = list(zip(sizes, seconds, strict=True))
    if len(pairs) < 2:
        return None
    x, y = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return float(np.polyfit(x, y, 1)[0])


def run_bench(
    sizes: list[int],
    steps: int = 100,
    naive_max: int = NAIVE_MAX,
    naive_steps: int = NAIVE_STEPS,
    seed: int = 0,
    log: Any = None,
    task: str = "digits",
) -> dict[str, Any]:
    """Run every size (model, then the naive reference where small enough).

    Returns:
        ``{"results": [...per size...], "exponent": slope, ...}``; see ``abm bench``.
    """
    check_sizes(sizes, steps, seed, task)
    results = []
    for n in sizes:
        row = _child("model", n, steps, seed, task)
        row["naive_s_per_step"] = row["ratio_vs_naive"] = row["ratio_users_phase"] = None
        if n <= naive_max:
            naive = _child("naive", n, naive_steps, seed, task)
            row["naive_s_per_step"] = naive["naive_s_per_step"]
            row["ratio_vs_naive"] = naive["naive_s_per_step"] / row["s_per_step"]
            if row["users_phase_s_per_step"] > 0:
                row["ratio_users_phase"] = naive["naive_s_per_step"] / row["users_phase_s_per_step"]
        row["user_steps_per_s"] = n / row["s_per_step"]
        results.append(row)
        if log is not None:
            log(f"{n} users: {row['s_per_step'] * 1e3:.1f} ms/step")
    by_size = sorted((r["n_users"], r["s_per_step"]) for r in results)
    largest = None
    if len(by_size) >= 2 and by_size[-1][0] > by_size[-2][0]:
        (n0, s0), (n1, s1) = by_size[-2], by_size[-1]
        largest = float(np.log(s1 / s0) / np.log(n1 / n0))
    return {
        "scenario": "3 platforms retraining every step, a strike by 20% of users, "
        f"Watts-Strogatz k=8, {task}, 0.1 samples/user/step",
        "task": task,
        "steps": steps,
        "naive_steps": naive_steps,
        "cpu_count": os.cpu_count(),
        "results": results,
        "exponent_largest": largest,  # slope between the two largest sizes alone
        "exponent": fitted_exponent([r["n_users"] for r in results],
                                    [r["s_per_step"] for r in results]),
    }  # fmt: skip


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    phases = list(PHASES) + ["twins", "other"]
    head = ("| users | s/step | user-steps/s | naive s/step | x naive (step) | x naive (users) "
            "| build s | build+run s | peak MB | " + " | ".join(phases) + " |")  # fmt: skip
    lines = [head, "|" + "---:|" * (9 + len(phases))]
    for r in report["results"]:
        cells = [
            f"{r['n_users']:,}",
            f"{r['s_per_step']:.4f}",
            f"{r['user_steps_per_s'] / 1e6:.2f} M",
            _fmt(r["naive_s_per_step"], ".3f"),
            _fmt(r["ratio_vs_naive"], ".0f"),
            _fmt(r["ratio_users_phase"], ".0f"),
            f"{r['build_s']:.1f}",
            f"{r['total_s']:.1f}",
            f"{r['peak_rss_mb']:.0f}",
        ] + [f"{100 * r['phase_share'][p]:.0f}%" for p in phases]
        lines.append("| " + " | ".join(cells) + " |")
    exp = report["exponent"]
    lines.append("")
    lines.append(f"Fitted exponent of cost per step vs users: {_fmt(exp, '.2f')} "
                 f"(between the two largest sizes: {_fmt(report.get('exponent_largest'), '.2f')}) "
                 f"({report['steps']} model steps per size; naive: median of "
                 f"{report['naive_steps']} steps).")  # fmt: skip
    return "\n".join(lines)


def _worker(argv: list[str]) -> None:
    kind, n, steps, seed = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    task = argv[4] if len(argv) > 4 else "digits"
    fn = measure_model if kind == "model" else measure_naive
    print(json.dumps(fn(n, steps, seed, task)))


if __name__ == "__main__":
    _worker(sys.argv[1:])
