"""Studies of long-range nonlinear chains (issue 28): J(N) of FPUT-β and XY rotors against
the range exponent α, and the rectification of a graded-mass FPUT chain against α.

    nice python scripts/nonlinear_studies.py fput     # J(N), α ∈ {0, 0.5, 1, 1.5, 2, 3, ∞}
    nice python scripts/nonlinear_studies.py rect     # R(α), graded masses 1 → 4, N = 32
    nice python scripts/nonlinear_studies.py rotors   # J(N) of XY rotors
    python scripts/nonlinear_studies.py figures       # docs/figures/nonlinear_*.png, table

Resumable: each (α, N) run is a sequence of segments (``simulate`` continued from the
previous segment's final state, a new key each); after every segment the state and the
segment's J, T_n go to results/nonlinear/<study>/<α>_<N>.npz, and a rerun continues from
there. The first ``BURN`` of the segments are discarded; J is the mean of the two baths'
fluxes over the others, its error from the segments' standard errors (segments are much
longer than J's correlation time). Relaxation is checked from the data: the first and the
second half of the production segments must agree (their difference in σ is printed and
stored), and the harmonic chain's slowest relaxation time (``relaxation_time``) is printed
next to the run length.

Model: ``networks.power_law`` couplings k/(Ñ|i − j|^α) with the Kac factor Ñ (k = 1, so
each particle's total coupling is 1 at every α), free ends, no pinning, unit masses
(except ``rect``), Langevin baths γ = 1 on particles 1 and N.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import jax
import numpy as np

import meanfield_jax as mf
from meanfield_jax import nonlinear as nl

ALPHAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf)
OUT = os.path.join("results", "nonlinear")
SEGMENTS, BURN = 8, 3  # segments per run; the first BURN are burn-in

STUDIES = {
    # N, time units per run (a function of N), trajectories, dt, baths
    "fput": dict(sizes=(32, 64, 128, 256), time=lambda n: max(4000.0, 24.0 * n), n_traj=64,
                 dt=0.05, t_left=1.2, t_right=0.8, beta=1.0),
    "rotors": dict(sizes=(32, 64, 128), time=lambda n: 2000.0, n_traj=64, dt=0.1,
                   t_left=0.5, t_right=0.1),
    "rect": dict(sizes=(32,), time=lambda n: 8000.0, n_traj=64, dt=0.05, t_left=1.5,
                 t_right=0.5, beta=1.0, masses=(1.0, 4.0)),
}


def _label(alpha: float) -> str:
    return "inf" if math.isinf(alpha) else f"{alpha:g}"


def system(study: str, alpha: float, n: int, reverse: bool = False):
    p = STUDIES[study]
    tl, tr = (p["t_right"], p["t_left"]) if reverse else (p["t_left"], p["t_right"])
    masses = np.linspace(*p["masses"], n) if "masses" in p else np.ones(n)
    net = mf.networks.power_law(masses, alpha, k=1.0, t_left=tl, t_right=tr)
    return nl.rotors(net) if study == "rotors" else nl.fput(net, beta=p["beta"])


def run(study: str, alpha: float, n: int, reverse: bool = False, log=print) -> dict:
    """One (α, N) run, resumable segment by segment; returns its summary."""
    p = STUDIES[study]
    s = system(study, alpha, n, reverse)
    folder = os.path.join(OUT, study)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{_label(alpha)}_{n}{'_rev' if reverse else ''}.npz")
    total = p["time"](n)
    seg_steps = int(round(total / SEGMENTS / p["dt"]))
    done = dict(np.load(path)) if os.path.exists(path) else {}
    flux = list(done.get("flux", []))
    flux_err = list(done.get("flux_err", []))
    temps = list(done.get("temps", []))
    wall = float(done.get("wall", 0.0))
    if flux:
        initial = (done["q"], done["v"])
    else:
        rng = np.random.default_rng(n)
        t0 = 0.5 * (p["t_left"] + p["t_right"])
        q0 = np.zeros((p["n_traj"], n))  # rotors: aligned (T = 0.3 is below T_c at α < 1)
        initial = (q0, rng.standard_normal((p["n_traj"], n)) * math.sqrt(t0))
    key = jax.random.fold_in(jax.random.PRNGKey(28 + int(reverse)), n)
    key = jax.random.fold_in(key, int(1000 * alpha) if math.isfinite(alpha) else 99_999)
    for i in range(len(flux), SEGMENTS):
        r = mf.simulate(s, jax.random.fold_in(key, i), p["n_traj"], p["dt"], seg_steps, 0,
                        initial=initial, chunk_size=min(seg_steps, 2000), progress=False,
                        profiles=False)
        initial = (r.final_positions, r.final_velocities)
        flux.append(0.5 * (r.flux_left + r.flux_right))
        flux_err.append(max(r.flux_left_stderr, r.flux_right_stderr))
        temps.append(r.temperatures)
        wall += r.wall_time
        np.savez(path + ".tmp.npz", flux=flux, flux_err=flux_err, temps=np.array(temps),
                 q=initial[0], v=initial[1], wall=wall)
        os.replace(path + ".tmp.npz", path)
        log(f"  {study} α={_label(alpha)} N={n}{' rev' if reverse else ''} segment {i + 1}/"
            f"{SEGMENTS}: J = {flux[-1]:.5e} ± {flux_err[-1]:.1e} ({r.wall_time:.1f} s)")
    return summary(study, alpha, n, reverse)


def summary(study, alpha, n, reverse=False) -> dict | None:
    path = os.path.join(OUT, study, f"{_label(alpha)}_{n}{'_rev' if reverse else ''}.npz")
    if not os.path.exists(path):
        return None
    d = np.load(path)
    flux, err = np.asarray(d["flux"]), np.asarray(d["flux_err"])
    if flux.size < SEGMENTS:
        return None
    prod, perr = flux[BURN:], err[BURN:]
    half = prod.size // 2
    a, ea = prod[:half].mean(), math.sqrt(np.sum(perr[:half] ** 2)) / half
    b, eb = prod[half:].mean(), math.sqrt(np.sum(perr[half:] ** 2)) / (prod.size - half)
    p = STUDIES[study]
    return dict(alpha=alpha, n=n, reverse=reverse, flux=float(prod.mean()),
                flux_stderr=float(math.sqrt(np.sum(perr ** 2)) / prod.size),
                drift_sigma=float((b - a) / math.hypot(ea, eb)),
                segments=flux.tolist(), time=p["time"](n), burn_time=p["time"](n) * BURN / SEGMENTS,
                temperatures=np.asarray(d["temps"])[BURN:].mean(axis=0).tolist(),
                wall=float(d["wall"]))


def _conductivity_exponent(rows):
    """κ = J N/ΔT ∝ N^a: a = 1 − (the fitted decay exponent of J)."""
    n = np.array([r["n"] for r in rows], float)
    j = np.array([r["flux"] for r in rows])
    e = np.array([r["flux_stderr"] for r in rows])
    dec, dec_err, _, _ = mf.fit_power_law(n, j, e)
    return 1.0 - dec, dec_err


def figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.join("docs", "figures"), exist_ok=True)
    report = {}
    for study in ("fput", "rotors"):
        p = STUDIES[study]
        fig, ax = plt.subplots(figsize=(6, 4.2))
        report[study] = {}
        for alpha in ALPHAS:
            rows = [r for r in (summary(study, alpha, n) for n in p["sizes"]) if r]
            if not rows:
                continue
            n = np.array([r["n"] for r in rows])
            kappa = np.array([r["flux"] for r in rows]) * n / (p["t_left"] - p["t_right"])
            kerr = np.array([r["flux_stderr"] for r in rows]) * n / (p["t_left"] - p["t_right"])
            a, da = _conductivity_exponent(rows) if len(rows) >= 2 else (math.nan, math.nan)
            report[study][_label(alpha)] = dict(exponent=a, exponent_stderr=da, rows=rows)
            ax.errorbar(n, kappa, kerr, marker="o", capsize=2,
                        label=f"α = {_label(alpha)}: κ ∝ N^{a:.2f}±{da:.2f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N")
        ax.set_ylabel("κ = J N / ΔT")
        title = ("FPUT-β (β = 1), T = 1.2 | 0.8" if study == "fput"
                 else "XY rotors, T = 0.5 | 0.1")
        ax.set_title(f"{title}, Kac power law k/(Ñ|i−j|^α)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join("docs", "figures", f"nonlinear_{study}_kappa.png")
        fig.savefig(path, dpi=120)
        print("wrote", path)
    rect = []
    for alpha in ALPHAS:
        fw, rv = summary("rect", alpha, 32), summary("rect", alpha, 32, True)
        if fw and rv:
            jp, ep, jm, em = fw["flux"], fw["flux_stderr"], rv["flux"], rv["flux_stderr"]
            ratio = (abs(jp) - abs(jm)) / abs(jm)
            err = abs(jp / jm) * math.hypot(ep / jp, em / jm)
            rect.append(dict(alpha=alpha, ratio=ratio, stderr=err, forward=fw, reverse=rv))
    report["rect"] = rect
    if rect:
        fig, ax = plt.subplots(figsize=(5, 3.6))
        x = np.arange(len(rect))
        ax.errorbar(x, [r["ratio"] for r in rect], [r["stderr"] for r in rect], marker="o",
                    capsize=3, ls="none")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xticks(x, [_label(r["alpha"]) for r in rect])
        ax.set_xlabel("α")
        ax.set_ylabel("R = (|J₊| − |J₋|)/|J₋|")
        ax.set_title("FPUT-β, N = 32, masses 1 → 4 (light end hot in J₊)", fontsize=9)
        fig.tight_layout()
        path = os.path.join("docs", "figures", "nonlinear_rectification.png")
        fig.savefig(path, dpi=120)
        print("wrote", path)
    with open(os.path.join(OUT, "report.json"), "w") as fh:
        json.dump(report, fh, indent=1, default=float)
    for study in ("fput", "rotors"):
        for label, rep in report.get(study, {}).items():
            rows = "; ".join(f"N={r['n']}: J={r['flux']:.4e}±{r['flux_stderr']:.1e} "
                             f"(drift {r['drift_sigma']:+.1f}σ)" for r in rep["rows"])
            print(f"{study} α={label}: κ ∝ N^{rep['exponent']:.3f}±{rep['exponent_stderr']:.3f}"
                  f" | {rows}")
    for r in rect:
        print(f"rect α={_label(r['alpha'])}: R = {r['ratio']:+.4f} ± {r['stderr']:.4f} "
              f"(J+ = {r['forward']['flux']:.4e}, J- = {r['reverse']['flux']:.4e})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", choices=["fput", "rotors", "rect", "figures"])
    ap.add_argument("--alphas", default=None, help="comma-separated subset, e.g. 0,2,inf")
    a = ap.parse_args(argv)
    if a.study == "figures":
        figures()
        return
    alphas = ALPHAS if a.alphas is None else tuple(float(x) for x in a.alphas.split(","))
    p = STUDIES[a.study]
    for n in p["sizes"]:
        for alpha in alphas:
            t0 = time.perf_counter()
            h = system(a.study, alpha, n)
            tau = mf.relaxation_time(h.system) if n <= 256 and a.study != "rotors" else math.nan
            print(f"{a.study} α={_label(alpha)} N={n}: {p['time'](n):g} time units "
                  f"({BURN}/{SEGMENTS} burn-in), harmonic relaxation time {tau:.3g}", flush=True)
            for rev in ((False, True) if a.study == "rect" else (False,)):
                s = run(a.study, alpha, n, rev, log=lambda m: print(m, flush=True))
                print(f"  -> J = {s['flux']:.5e} ± {s['flux_stderr']:.1e}, drift "
                      f"{s['drift_sigma']:+.2f}σ ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
