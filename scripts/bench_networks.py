"""Benchmark: network heat flux, local temperatures and T(ω) — secular solver against the dense
paths (method="lyapunov", per-frequency LU, scipy's Lyapunov solver), ratios in one run.

Random springs (``networks.random_springs``, U(0, 1), Ñ = 1) with random masses U(0.5, 1.5),
γ = 1, T_L = 1, T_R = 0: the setting of issue 13's measurements (dense heat_flux at N = 200:
4.6 s warm, N = 500: 10.5 s; transmittance for 256 frequencies at N = 500: 9.4 s).
Every time is the best of ``--repeat`` warm calls (compilation excluded; it is reported).

``--numpy-freqs K`` (default 16) also times NumPy's batched dense solve of Z(ω) G_·N = e_N
(``np.linalg.solve`` on a (K, N, N) stack: one LU per frequency, O(N³) each) on K of the
frequencies and scales it to ``--freqs`` (the cost per frequency does not depend on ω): the
baseline of issue 13's "T(ω) for N = 1000 × 4096 frequencies" target.

``--flux-only``: heat_flux alone (large N: T_n costs O(N³) GEMMs on top of the eigh).

Usage: python scripts/bench_networks.py [--sizes 200 500 1000] [--dense-max 500]
       [--scipy-max 1000] [--freqs 256] [--numpy-freqs 16] [--repeat 2] [--flux-only]
"""

import argparse
import os
import time

import jax
import numpy as np
import scipy.linalg as sla

import meanfield_jax as mf
from meanfield_jax import networks


def _best(fn, repeat):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return out, first, best


def _scipy_flux(net):
    m = np.asarray(net.masses)
    n = m.size
    kmat = np.asarray(net.stiffness)
    gam = np.zeros(n)
    gam[[0, -1]] = float(net.gamma)
    a = np.block([[np.zeros((n, n)), np.eye(n)], [-kmat / m[:, None], -np.diag(gam / m)]])
    d = np.zeros((2 * n, 2 * n))
    d[n, n] = 2 * float(net.gamma) * float(net.t_left) / m[0] ** 2
    d[-1, -1] = 2 * float(net.gamma) * float(net.t_right) / m[-1] ** 2
    c = sla.solve_continuous_lyapunov(a, -d)
    return float(net.gamma) / m[0] * (float(net.t_left) - m[0] * c[n, n])


def _numpy_transmittance(net, omega):
    """T(ω) = 4γ²ω²|G_1N|² by batched dense solves (NumPy): the baseline."""
    m = np.asarray(net.masses)
    n = m.size
    kmat = np.asarray(net.stiffness) + np.diag([float(net.k_prime)] + [0.0] * (n - 2)
                                               + [float(net.k_prime)])
    gamma = float(net.gamma)
    damping = np.zeros(n)
    damping[[0, -1]] = gamma
    z = (kmat[None] - (omega[:, None] ** 2 * m[None])[:, :, None] * np.eye(n)[None]
         - 1j * (omega[:, None] * damping[None])[:, :, None] * np.eye(n)[None])
    rhs = np.zeros((omega.size, n, 1), complex)
    rhs[:, -1, 0] = 1.0
    g_1n = np.linalg.solve(z, rhs)[:, 0, 0]
    return 4.0 * gamma**2 * omega**2 * np.abs(g_1n) ** 2


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[200, 500, 1000])
    p.add_argument("--dense-max", type=int, default=500)
    p.add_argument("--scipy-max", type=int, default=1000)
    p.add_argument("--freqs", type=int, default=256)
    p.add_argument("--numpy-freqs", type=int, default=16)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--flux-only", action="store_true")
    args = p.parse_args()
    print(f"networks: random springs, random masses ({jax.devices()[0].platform}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    for n in args.sizes:
        key = mf.masses.realization_key(0, n, 0)
        masses = mf.masses.uniform(key, n, 1.0, 0.5)
        net = networks.random_springs(key, masses, t_left=1.0, t_right=0.0)
        omega = np.linspace(0.0, 3.0 * float(np.sqrt(n)), args.freqs)
        r, c_flux, t_flux = _best(lambda: mf.heat_flux_with_error(net), args.repeat)
        if args.flux_only:
            print(f"N = {n}: secular J = {float(r.flux):.12e} ± {float(r.error_estimate):.1e} "
                  f"(converged {bool(r.converged)}); heat_flux {t_flux:.3f} s warm "
                  f"(first call {c_flux:.1f} s)")
            continue
        _, c_temp, t_temp = _best(lambda: mf.local_temperatures_with_error(net), args.repeat)
        tt, c_tr, t_tr = _best(lambda: mf.transmittance(net, omega), args.repeat)
        print(f"N = {n}: secular J = {float(r.flux):.12e} ± {float(r.error_estimate):.1e} "
              f"(converged {bool(r.converged)})")
        print(f"  heat_flux          {t_flux:8.3f} s warm (first call {c_flux:.1f} s)")
        print(f"  local_temperatures {t_temp:8.3f} s warm (first call {c_temp:.1f} s)")
        print(f"  transmittance x{args.freqs} {t_tr:8.3f} s warm (first call {c_tr:.1f} s)")
        if args.numpy_freqs > 0:
            sub = omega[1 : 1 + args.numpy_freqs]
            t0 = time.perf_counter()
            tn = _numpy_transmittance(net, sub)
            t_np = (time.perf_counter() - t0) * args.freqs / sub.size
            err = float(np.max(np.abs(tn - np.asarray(tt)[1 : 1 + sub.size])))
            print(f"  numpy batched dense T(ω) x{args.freqs} {t_np:8.3f} s (timed on {sub.size} "
                  f"frequencies, scaled; x{t_np / t_tr:.0f} slower), max |ΔT| = {err:.1e}")
        if n <= args.dense_max:
            rl, _, t_l = _best(lambda: mf.heat_flux_with_error(net, method="lyapunov"), 1)
            _, _, t_lt = _best(lambda: mf.local_temperatures_with_error(net, method="lyapunov"), 1)
            td, _, t_d = _best(lambda: mf.transmittance(net, omega, method="dense"), 1)
            print(f"  lyapunov J {t_l:8.3f} s  (x{t_l / t_flux:.0f} slower), "
                  f"|ΔJ|/J = {abs(float(rl.flux) / float(r.flux) - 1):.1e}")
            print(f"  lyapunov T_n {t_lt:8.3f} s  (x{t_lt / t_temp:.0f} slower)")
            print(f"  dense T(ω) {t_d:8.3f} s  (x{t_d / t_tr:.0f} slower), "
                  f"max |ΔT| = {float(np.max(np.abs(np.asarray(td) - np.asarray(tt)))):.1e}")
        if n <= args.scipy_max:
            t0 = time.perf_counter()
            js = _scipy_flux(net)
            t_s = time.perf_counter() - t0
            print(f"  scipy Lyapunov J {t_s:8.3f} s  (x{t_s / t_flux:.0f} slower), "
                  f"|ΔJ|/J = {abs(js / float(r.flux) - 1):.1e}")


if __name__ == "__main__":
    main()
