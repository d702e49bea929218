"""GPU report: throughput of every exact kernel on the default device, checked against the CPU.

Run on a machine with a GPU (about 5 minutes; `--budget` caps the open-ended size search):

    python scripts/gpu_report.py [--json report.json]

It measures, on `jax.devices()[0]` (warm calls, best of several; compilation reported apart):
  1. T(ω) (Eq. 17): site·frequency evaluations per second, 16 systems × N = 10⁴ × 10⁴ ω;
  2. exact J (Eq. 16, residue sum): systems per second for ensembles at N = 10³ and 10⁴, and
     the largest N (doubling from 10⁴) whose single warm call finishes within 60 s;
  3. T_n (Eq. 31) at N = 10⁵;
  4. Langevin (BAOAB, Eqs. 2–5): particle-steps per second, N = 1000 × 10⁴ trajectories;
  5. nonlinear Langevin steps (``meanfield_jax.nonlinear``): FPUT-β mean field (O(N) power
     sums), N = 1000 × 10⁴ trajectories, and power law α = 1.5 (O(N log N) FFT forces),
     N = 4096 × 256 trajectories;
and checks each against the same computation on the CPU (`jax.devices("cpu")`): |ΔT| ≤ 1e-12
max T, |ΔJ| ≤ 1e-12 |J|, |ΔT_n| ≤ 1e-12 max(T_L, T_R), Langevin averages of the same
trajectories (threefry streams are backend-independent) to 1e-12 relative (also for a short
FPUT-β run: 100 steps are too few for chaos to amplify rounding). Each line says
PASS or FAIL. On a CPU-only machine the "device" is the CPU and the check compares a CPU run
with itself (still exercising every path); `--toy` shrinks every size so that the test
suite runs it in seconds (tests/test_gpu_report.py) and the script never rots.

Random masses m_n ∈ 1 ± 0.1 (`masses.uniform_ensemble`), k = 0.1, k0 = 0.02, Kac, γ = 1,
T_L = 1, T_R = 0 throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np

import meanfield_jax as mf

SIZES = {  # full report, and --toy (seconds on a CPU)
    "transmittance": ((16, 10_000, 10_000), (2, 40, 64)),    # (systems, N, frequencies)
    "flux_ensembles": (((64, 1_000), (16, 10_000)), ((2, 40),)),  # (systems, N)
    "largest_start": (10_000, 40),
    "largest_limit_s": (60.0, 2.0),
    "temperatures": (100_000, 40),
    "langevin": ((1_000, 10_000, 2_000), (8, 16, 200)),     # (N, trajectories, steps)
    "langevin_check": ((1_000, 64, 200), (8, 8, 100)),
    "fput_mean_field": ((1_000, 10_000, 2_000), (8, 16, 200)),
    "fput_power_law": ((4_096, 256, 500), (32, 4, 50)),
    "fput_check": ((1_000, 64, 100), (8, 8, 100)),
}
TOL = 1e-12


def _chains(r: int, n: int, seed: int = 0):
    masses = np.asarray(mf.masses.uniform_ensemble(seed, n, np.arange(r)))
    return mf.batch_chains(masses, k=0.1, k0=0.02, n_tilde="kac", gamma=1.0,
                           t_left=1.0, t_right=0.0)


def _one(systems, i: int):
    return jax.tree_util.tree_map(lambda x: x[i], systems)


def _best(fn, repeats: int):
    """(result, best wall time) of `repeats` calls of fn (results blocked on)."""
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return out, best


def _timed(fn):
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - t


def _on_cpu(fn):
    with jax.default_device(jax.devices("cpu")[0]):
        return jax.block_until_ready(fn())


def _verdict(deviation: float) -> str:
    return "PASS" if deviation <= TOL else "FAIL"


def _report(rows: list, name: str, **fields):
    rows.append({"measurement": name, **fields})
    text = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in fields.items())
    print(f"{name}: {text}", flush=True)


def transmittance_rate(rows, toy):
    r, n, nw = SIZES["transmittance"][toy]
    systems = _chains(r, n)
    omega = np.linspace(0.0, 0.5, nw)
    run = lambda: mf.ensemble_transmittance(systems, omega)  # noqa: E731
    _, first = _timed(run)
    t, warm = _best(run, 3)
    sub = omega[:: max(1, nw // 64)]
    cpu = _on_cpu(lambda: mf.ensemble_transmittance(
        systems, sub, devices=jax.devices("cpu")))
    dev = np.asarray(t)[:, :: max(1, nw // 64)]
    deviation = float(np.max(np.abs(dev - cpu)) / np.max(np.abs(cpu)))
    _report(rows, "T(omega)", systems=r, N=n, frequencies=nw, first_call_s=first,
            warm_s=warm, site_frequency_per_s=r * n * nw / warm,
            cpu_deviation=deviation, check=_verdict(deviation))


def flux_rates(rows, toy):
    for r, n in SIZES["flux_ensembles"][toy]:
        systems = _chains(r, n, seed=1)
        run = lambda: mf.ensemble_flux(systems)  # noqa: E731
        _, first = _timed(run)
        res, warm = _best(run, 2)
        picks = sorted({0, r - 1})
        cpu = [_on_cpu(lambda: mf.heat_flux(_one(systems, i))) for i in picks]
        deviation = max(abs(float(res.flux[i]) - float(c)) / abs(float(c))
                        for i, c in zip(picks, cpu))
        _report(rows, f"J ensemble N={n}", systems=r, first_call_s=first, warm_s=warm,
                systems_per_s=r / warm, converged=bool(np.all(res.converged)),
                cpu_deviation=deviation, check=_verdict(deviation))


def largest_flux(rows, toy, budget_s):
    n, limit = SIZES["largest_start"][toy], SIZES["largest_limit_s"][toy]
    deadline = time.perf_counter() + budget_s
    best_n, best_t, first_t = None, None, None
    while True:
        chain = _one(_chains(1, n, seed=2), 0)
        _, first_t = _timed(lambda: mf.heat_flux_with_error(chain))
        res, warm = _timed(lambda: mf.heat_flux_with_error(chain))
        if warm > limit:
            break
        best_n, best_t = n, warm
        # O(N²): the next doubling takes about 4× as long (plus its compilation).
        if 4 * warm + first_t > limit or time.perf_counter() + 5 * warm + first_t > deadline:
            break
        n *= 2
    _report(rows, "J largest N within limit", limit_s=limit, N=best_n, warm_s=best_t,
            converged=bool(res.converged))


def temperatures(rows, toy):
    n = SIZES["temperatures"][toy]
    chain = _one(_chains(1, n, seed=3), 0)
    _, first = _timed(lambda: mf.local_temperatures_with_error(chain))
    res, warm = _timed(lambda: mf.local_temperatures_with_error(chain))
    t_n = np.asarray(res.temperatures)
    cpu = np.asarray(_on_cpu(lambda: mf.local_temperatures(chain)))
    deviation = float(np.max(np.abs(t_n - cpu)))  # max(T_L, T_R) = 1
    bounded = bool(np.all((t_n >= -TOL) & (t_n <= 1.0 + TOL)))
    _report(rows, f"T_n N={n}", first_call_s=first, warm_s=warm,
            converged=bool(np.all(res.converged)), within_bath_temperatures=bounded,
            cpu_deviation=deviation, check=_verdict(deviation))


def langevin(rows, toy):
    n, trajectories, steps = SIZES["langevin"][toy]
    chain = _one(_chains(1, n, seed=4), 0)
    key = jax.random.PRNGKey(0)
    run = lambda s: mf.simulate(chain, key, trajectories, 0.1, s, s // 2,  # noqa: E731
                                chunk_size=100, progress=False)
    _, first = _timed(lambda: run(100).flux_left)
    _, warm = _best(lambda: run(steps).flux_left, 2)
    _report(rows, "Langevin", N=n, trajectories=trajectories, steps=steps,
            first_call_s=first, warm_s=warm,
            particle_steps_per_s=n * trajectories * steps / warm)
    n, trajectories, steps = SIZES["langevin_check"][toy]
    chain = _one(_chains(1, n, seed=5), 0)
    short = lambda: mf.simulate(chain, key, trajectories, 0.1, steps, steps // 2,  # noqa: E731
                                chunk_size=50, progress=False)
    dev = short()
    cpu = _on_cpu(short)
    deviation = max(
        float(np.max(np.abs(dev.temperatures - cpu.temperatures)
                     / np.max(np.abs(cpu.temperatures)))),
        abs(dev.flux_left - cpu.flux_left) / max(abs(cpu.flux_left), 1e-300))
    _report(rows, "Langevin vs CPU", N=n, trajectories=trajectories, steps=steps,
            cpu_deviation=deviation, check=_verdict(deviation))


def nonlinear(rows, toy):
    key = jax.random.PRNGKey(0)
    for name, builder in (
            ("FPUT mean field", lambda n: _one(_chains(1, n, seed=6), 0)),
            ("FPUT power law", lambda n: mf.networks.power_law(np.ones(n), 1.5, k=0.1, k0=0.02))):
        n, trajectories, steps = SIZES["fput_mean_field" if "mean" in name else
                                       "fput_power_law"][toy]
        system = mf.nonlinear.fput(builder(n), beta=1.0)
        run = lambda s: mf.simulate(system, key, trajectories, 0.1, s, s // 2,  # noqa: E731
                                    chunk_size=min(s, 100), progress=False, profiles=False)
        _, first = _timed(lambda: run(steps // 2).flux_left)
        _, warm = _best(lambda: run(steps).flux_left, 2)
        _report(rows, name, N=n, trajectories=trajectories, steps=steps,
                structure=system.structure, first_call_s=first, warm_s=warm,
                particle_steps_per_s=n * trajectories * steps / warm)
    n, trajectories, steps = SIZES["fput_check"][toy]
    system = mf.nonlinear.fput(_one(_chains(1, n, seed=7), 0), beta=1.0, lam=0.5)
    short = lambda: mf.simulate(system, key, trajectories, 0.1, steps, steps // 2,  # noqa: E731
                                chunk_size=50, progress=False)
    dev = short()
    cpu = _on_cpu(short)
    deviation = max(
        float(np.max(np.abs(dev.temperatures - cpu.temperatures)
                     / np.max(np.abs(cpu.temperatures)))),
        float(np.max(np.abs(dev.energies - cpu.energies) / np.max(np.abs(cpu.energies)))),
        abs(dev.flux_left - cpu.flux_left) / max(abs(cpu.flux_left), 1e-300))
    _report(rows, "FPUT vs CPU", N=n, trajectories=trajectories, steps=steps,
            cpu_deviation=deviation, check=_verdict(deviation))


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--toy", action="store_true", help="tiny sizes (the test suite's run)")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds for the largest-N search (default 120)")
    p.add_argument("--json", help="also write the measurements to this JSON file")
    args = p.parse_args(argv)
    toy = int(args.toy)
    device = jax.devices()[0]
    print(f"meanfield_jax GPU report on {device.platform} ({device.device_kind}), "
          f"jax {jax.__version__}, {os.cpu_count()} CPU cores{' — toy sizes' if toy else ''}",
          flush=True)
    rows: list = []
    start = time.perf_counter()
    transmittance_rate(rows, toy)
    flux_rates(rows, toy)
    largest_flux(rows, toy, args.budget)
    temperatures(rows, toy)
    langevin(rows, toy)
    nonlinear(rows, toy)
    failed = [r["measurement"] for r in rows if r.get("check") == "FAIL"]
    print(f"total {time.perf_counter() - start:.1f} s; "
          f"{'all checks PASS' if not failed else 'FAILED: ' + ', '.join(failed)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device.device_kind), "jax": jax.__version__,
                       "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    raise SystemExit(1 if any(r.get("check") == "FAIL" for r in main()) else 0)
