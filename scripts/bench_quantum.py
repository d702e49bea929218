"""Quantum baths (issue 29): cost of κ(T) and of the quantum J against the classical flux,
and a frequency-grid Landauer integral against the exact one.

Three measurements in one run (warm timings, best of ``--repeat``; ratios against baselines
measured in the same run), on random-mass Kac chains (δ = 0.1, k0 = 0.02, γ = 1, ħ = 1):

1. κ at ``--temperatures`` temperatures (log-spaced 0.01…10) at N = ``--n``, against one
   classical ``heat_flux`` of the same chain (both through the public API, size buckets on);
2. quantum J at N = ``--n-large`` against the classical O(N) path (``residues-fmm``);
3. at N = ``--n``: the trapezoidal rule for J = ∫_0^Ω (dω/2π) ħω T(ω)[n_L − n_R] on uniform
   grids of G points over [0, Ω] (Ω = 4× the top bulk frequency; T ~ ω⁻⁶ beyond the band),
   with T(ω + iη) from Sherman–Morrison (Eq. 14) on the grid (η = ``--eta``, as NEGF codes
   broaden), against the exact residue result: relative error and time per grid size.

    PYTHONPATH=. python scripts/bench_quantum.py
    PYTHONPATH=. python scripts/bench_quantum.py --n 1000 --n-large 100000 --temperatures 1000
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import meanfield_jax as mf


def _best(fn, repeat):
    out = jax.block_until_ready(fn())  # compile / warm up
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best, out


def _chain(n, **kw):
    m = np.random.default_rng(n).uniform(0.9, 1.1, n)
    return mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde="kac", gamma=1.0, **kw)


@jax.jit
def _grid_transmittance(masses, k, k0, gamma, omega):
    """T(ω + iη) of a Kac chain (Sherman–Morrison, Eq. 14), vectorised over a grid: the
    broadened transmittance an NEGF code integrates."""
    n = masses.shape[0]
    kbar = n * k / (n - 1.0)
    ends = jnp.zeros(n).at[0].set(1.0).at[-1].set(1.0)

    def one(w):
        a = kbar + k0 - masses * w * w - 1j * gamma * w * ends  # A_n, damping sign irrelevant
        b = -k / (n - 1.0)
        s = 1.0 + b * jnp.sum(1.0 / a)
        g1n = -b / (a[0] * a[-1] * s)
        return 4.0 * gamma**2 * jnp.abs(w) ** 2 * jnp.abs(g1n) ** 2

    return jax.lax.map(one, omega, batch_size=4096)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--n-large", type=int, default=100_000)
    parser.add_argument("--temperatures", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--eta", type=float, default=1e-8)
    parser.add_argument("--grids", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    hbar = 1.0

    # 1. κ(T) at many temperatures against one classical J
    chain = _chain(args.n, t_left=1.0, t_right=0.0)
    temps = np.geomspace(0.01, 10.0, args.temperatures)
    t_classical, j_classical = _best(lambda: mf.heat_flux(chain), args.repeat)
    t_kappa, kappa = _best(lambda: mf.thermal_conductance_with_error(chain, temps, hbar=hbar),
                           args.repeat)
    ok = np.asarray(kappa.converged)
    rel = np.asarray(kappa.error_estimate) / np.asarray(kappa.conductance)
    print(f"[1] N = {args.n}: classical heat_flux {t_classical:.4f} s; κ at {len(temps)} "
          f"temperatures {t_kappa:.4f} s; ratio {t_kappa / t_classical:.2f}; converged "
          f"{int(ok.sum())}/{ok.size} (largest relative estimate {rel.max():.1e}, at "
          f"T = {temps[int(np.argmax(rel))]:.3g})")

    # 2. quantum J on the O(N) path against the classical O(N) path
    if not args.skip_large:
        big = _chain(args.n_large, t_left=1.0, t_right=0.0)
        t_cl, _ = _best(lambda: mf.heat_flux(big, method="residues-fmm"), args.repeat)
        t_q, _ = _best(lambda: mf.heat_flux(big, method="residues-fmm", hbar=hbar), args.repeat)
        print(f"[2] N = {args.n_large}: classical O(N) J {t_cl:.3f} s; quantum O(N) J "
              f"{t_q:.3f} s; ratio {t_q / t_cl:.2f}")

    # 3. a grid Landauer integral against the exact one
    tl, tr = 0.5, 0.05
    chain = chain.replace(t_left=tl, t_right=tr)
    exact = float(mf.heat_flux(chain, hbar=hbar))
    top = float(np.sqrt((chain.kappa_bar + chain.k0) / np.min(np.asarray(chain.masses))))
    omega_max = 4.0 * top
    print(f"[3] N = {args.n}, T_L = {tl}, T_R = {tr}, ħ = {hbar}: exact J = {exact:.15e} "
          f"(residues + Binet); trapezoid on [0, {omega_max:.2f}] with η = {args.eta:g}")
    print(f"{'grid':>9} {'rel. error':>11} {'time [s]':>9}")
    m = jnp.asarray(chain.masses)

    def n_occ(w, t):
        x = hbar * w / t
        return jnp.where(w > 0, hbar * w / jnp.expm1(jnp.where(w > 0, x, 1.0)), t)

    for g in args.grids:
        def grid_j():
            w = jnp.linspace(0.0, omega_max, g)
            tw = _grid_transmittance(m, chain.k, chain.k0, chain.gamma, w + 1j * args.eta)
            f = tw * (n_occ(w, tl) - n_occ(w, tr)) / (2 * np.pi)
            return jnp.trapezoid(f, w)

        t_grid, value = _best(grid_j, 1)
        print(f"{g:>9} {abs(float(value) - exact) / exact:>11.2e} {t_grid:>9.3f}")


if __name__ == "__main__":
    main()
