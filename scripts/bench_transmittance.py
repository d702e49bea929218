"""Benchmark: transmittance T(ω) for a disorder ensemble (issue 2).

N = 1000, 4096 frequencies, 16 realizations of random masses (δ = 0.1). Compares, in the
same run, the jit-warm ``mf.transmittance`` (vmapped over systems) with
  * a vectorised NumPy Sherman–Morrison implementation (the same O(N) formula), and
  * NumPy dense solves (O(N³) per frequency), timed on a few frequencies and extrapolated.
Prints times and ratios; agreement between the three is checked too.

Usage: python scripts/bench_transmittance.py [--n 1000] [--freqs 4096] [--realizations 16]
"""

import argparse
import time

import jax
import numpy as np

import meanfield_jax as mf


def numpy_sherman_morrison(masses, k, k0, n_tilde, gamma, omegas):
    """T(ω) = 4γ²ω²|G_1N|² from Eq. (14), vectorised over frequencies (NumPy)."""
    n = masses.size
    b = -k / n_tilde
    w = omegas[:, None]
    a = (n * k / n_tilde + k0) - masses[None, :] * w**2 + 0j
    a[:, 0] += 1j * gamma * omegas
    a[:, -1] += 1j * gamma * omegas
    s = 1.0 + b * np.sum(1.0 / a, axis=1)
    g1n = -b / (a[:, 0] * a[:, -1] * s)
    return 4 * gamma**2 * omegas**2 * np.abs(g1n) ** 2


def numpy_dense(masses, k, k0, n_tilde, gamma, omegas):
    n = masses.size
    kmat = (k0 + n * k / n_tilde) * np.eye(n) - (k / n_tilde) * np.ones((n, n))
    out = []
    for w in omegas:
        z = kmat - np.diag(masses) * w**2 + 0j
        z[0, 0] += 1j * gamma * w
        z[-1, -1] += 1j * gamma * w
        rhs = np.zeros(n, complex)
        rhs[-1] = 1.0
        x = np.linalg.solve(z, rhs)
        out.append(4 * gamma**2 * w**2 * abs(x[0]) ** 2)
    return np.array(out)


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--freqs", type=int, default=4096)
    p.add_argument("--realizations", type=int, default=16)
    p.add_argument("--dense-freqs", type=int, default=8)
    args = p.parse_args()
    k, k0, gamma = 0.1, 0.02, 1.0
    n, r = args.n, args.realizations
    n_tilde = n - 1
    key = jax.random.PRNGKey(0)
    masses = np.asarray(jax.random.uniform(key, (r, n), minval=0.9, maxval=1.1))
    omegas = np.linspace(0.0, 0.6, args.freqs)
    batch = mf.stack_systems([mf.MeanFieldChain(m, k=k, k0=k0, n_tilde="kac", gamma=gamma)
                              for m in masses])
    f = jax.jit(jax.vmap(mf.transmittance, in_axes=(0, None)))
    t0 = time.perf_counter()
    jax.block_until_ready(f(batch, omegas))
    compile_s = time.perf_counter() - t0
    t_jax, out_jax = best_of(lambda: jax.block_until_ready(f(batch, omegas)))
    t_np, out_np = best_of(
        lambda: np.stack([numpy_sherman_morrison(m, k, k0, n_tilde, gamma, omegas) for m in masses]),
        repeats=2)
    sub = omegas[1:: max(1, args.freqs // args.dense_freqs)][: args.dense_freqs]
    t_dense_sub, out_dense = best_of(lambda: numpy_dense(masses[0], k, k0, n_tilde, gamma, sub), 1)
    t_dense = t_dense_sub / sub.size * args.freqs * r
    ref_sub = np.asarray(mf.transmittance(batch_index(batch, 0), sub))
    agree_np = np.max(np.abs(out_jax - out_np) / np.maximum(out_np, 1e-300))
    agree_dense = np.max(np.abs(ref_sub - out_dense) / np.maximum(out_dense, 1e-300))
    work = r * args.freqs
    print(f"transmittance: N = {n}, {args.freqs} frequencies × {r} realizations "
          f"({jax.devices()[0].platform})")
    print(f"  meanfield_jax (jit, warm)      {t_jax:9.3f} s   {work / t_jax:12.0f} freq·systems/s"
          f"   (compile {compile_s:.1f} s)")
    print(f"  numpy Sherman–Morrison         {t_np:9.3f} s   ratio {t_np / t_jax:7.1f}×")
    print(f"  numpy dense solves (extrap.)   {t_dense:9.1f} s   ratio {t_dense / t_jax:7.0f}×"
          f"   (from {sub.size} frequencies)")
    print(f"  max relative difference: vs numpy SM {agree_np:.1e}, vs dense {agree_dense:.1e}")


def batch_index(batch, i):
    return jax.tree_util.tree_map(lambda x: x[i], batch)


if __name__ == "__main__":
    main()
