"""Throughput of the Langevin simulator: particle-steps per second, JAX vs NumPy, harmonic
and nonlinear (FPUT-β) steps, all measured in one run.

1. Harmonic and FPUT-β mean-field chains (O(N) per step): particle-steps/s of
   ``simulate`` (profiles off), of a NumPy BAOAB of the same model vectorised over
   trajectories ((n_traj, N) arrays), and of a memory-streaming roofline (``roofline``: a
   fused scan step that only streams q, v and Σv² through memory, measured here);
   the ratio FPUT / harmonic step time.
2. Power-law FPUT (O(N log N) FFT forces) against the dense O(N²) forces of the same
   couplings (a spring perturbed by 1e-12 relative makes ``nonlinear`` choose the dense
   path), per trajectory-step, from N = 16 to --fft-max (4096): the speed-up and the
   crossover N (the first N from which the FFT step is faster).
On a GPU it also reports N = 1000 × 10⁴ trajectories (harmonic).

Usage: python scripts/bench_langevin.py [--steps 2000] [--sizes 16x1024,128x1024,1000x256]
       [--fft-max 4096]
"""

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

import meanfield_jax as mf
from meanfield_jax import nonlinear as nl
from meanfield_jax.masses import from_kind

BETA, LAM = 1.0, 0.5


def numpy_baoab(masses, k, k0, n_tilde, gamma, t_left, t_right, dt, n_steps, n_traj, seed=0,
                beta=0.0, lam=0.0):
    """Reference: identical scheme and observables (Σv², O-step heat), NumPy only; β, λ:
    the FPUT-β mean-field chain's forces from power sums, as ``nonlinear``'s."""
    rng = np.random.default_rng(seed)
    n = masses.size
    inv_m = 1.0 / masses
    diag = np.full(n, k0 + n * k / n_tilde)
    b = k / n_tilde
    c = np.ones(n)
    c[[0, -1]] = np.exp(-gamma * dt / masses[[0, -1]])
    sig = np.zeros((2, n))
    sig[0, 0] = np.sqrt((1 - c[0] ** 2) * t_left / masses[0])
    sig[1, -1] = np.sqrt((1 - c[-1] ** 2) * t_right / masses[-1])
    h2 = 0.5 * dt
    q = np.zeros((n_traj, n))
    v = np.zeros((n_traj, n))

    def accel(q):
        if beta == 0.0 and lam == 0.0:
            return (b * q.sum(1, keepdims=True) - diag * q) * inv_m
        x = q - q.mean(1, keepdims=True)
        x2 = x * x
        s1, s2, s3 = x.sum(1, keepdims=True), x2.sum(1, keepdims=True), (x2 * x).sum(1, keepdims=True)
        pair = b * ((n * x - s1) + beta * (n * x2 * x - 3 * x2 * s1 + 3 * x * s2 - s3))
        return (-pair - k0 * q - lam * q * q * q) * inv_m

    a = accel(q)
    sum_v2 = np.zeros((n_traj, n))
    heat_l = np.zeros(n_traj)
    heat_r = np.zeros(n_traj)
    for _ in range(n_steps):
        xi = rng.standard_normal((n_traj, 2))
        v += h2 * a
        q += h2 * v
        vl, vr = v[:, 0].copy(), v[:, -1].copy()
        # O step on the two bath columns only (the bulk has c = 1, no noise)
        v[:, 0] = c[0] * vl + sig[0, 0] * xi[:, 0]
        v[:, -1] = c[-1] * vr + sig[1, -1] * xi[:, 1]
        heat_l += 0.5 * masses[0] * (v[:, 0] ** 2 - vl**2)
        heat_r += 0.5 * masses[-1] * (vr**2 - v[:, -1] ** 2)
        q += h2 * v
        a = accel(q)
        v += h2 * a
        sum_v2 += v * v
    return sum_v2, heat_l, heat_r


@functools.partial(jax.jit, static_argnames=("steps",))
def _touch(q, v, acc, steps):
    """The least any step on this state can do: read q, v, Σv² and write them back, one
    fused pass, no reduction. Its rate bounds every implementation that streams the state once
    per time step (a lax.scan over steps)."""

    def body(state, _):
        q, v, acc = state
        v = v - 1e-3 * q
        q = q + 1e-3 * v
        return (q, v, acc + v * v), None

    return jax.lax.scan(body, (q, v, acc), None, length=steps)[0]


def roofline(n, n_traj, steps):
    """Particle-steps per second of :func:`_touch` (compiled, warm)."""
    z = jnp.ones((n_traj, n))
    jax.block_until_ready(_touch(z, z, z, steps))
    t0 = time.perf_counter()
    jax.block_until_ready(_touch(z, z, z, steps))
    return n * n_traj * steps / (time.perf_counter() - t0)


def _chain(n):
    m = np.asarray(from_kind("random", n, delta=0.1))
    return m, mf.MeanFieldChain(m, k=1.0, k0=0.1, t_left=1.0, t_right=0.0)


def _rate(system, n_traj, steps, dt=0.05):
    """Particle-steps per second of ``simulate`` (warm: a first call compiles)."""
    kw = dict(chunk_size=steps, progress=False, profiles=False)
    mf.simulate(system, jax.random.PRNGKey(0), n_traj, dt, steps, 0, **kw)
    best = 0.0
    for rep in range(2):
        res = mf.simulate(system, jax.random.PRNGKey(1 + rep), n_traj, dt, steps, 0, **kw)
        best = max(best, system.n * n_traj * steps / res.wall_time)
    return best


def _numpy_rate(m, n_traj, steps, beta=0.0, lam=0.0):
    n = m.size
    np_steps = max(20, steps // 10)
    t0 = time.perf_counter()
    numpy_baoab(m, 1.0, 0.1, n - 1.0, 1.0, 1.0, 0.0, 0.05, np_steps, n_traj, beta=beta, lam=lam)
    return n * n_traj * np_steps / (time.perf_counter() - t0)


def bench(n, n_traj, steps):
    """(harmonic JAX, harmonic NumPy, FPUT JAX, FPUT NumPy) particle-steps per second."""
    m, chain = _chain(n)
    fput = nl.fput(chain, beta=BETA, lam=LAM)
    return (_rate(chain, n_traj, steps), _numpy_rate(m, n_traj, steps),
            _rate(fput, n_traj, steps), _numpy_rate(m, n_traj, steps, BETA, LAM))


def fft_vs_dense(n_max, log):
    """Seconds per trajectory-step of the FFT and the dense FPUT step for N = 16 … n_max."""
    rows, n = [], 16
    while n <= n_max:
        masses = np.ones(n)
        net = mf.networks.power_law(masses, 1.5, k=1.0, t_left=1.0, t_right=0.5)
        springs = -np.asarray(net.stiffness) * (1.0 - np.eye(n))
        springs[0, 1] *= 1.0 + 1e-12  # breaks the Toeplitz structure: the dense path
        springs[1, 0] = springs[0, 1]
        dense_net = mf.networks.from_springs(masses, springs, t_left=1.0, t_right=0.5)
        fft, dense = nl.fput(net, beta=BETA), nl.fput(dense_net, beta=BETA)
        assert fft.structure == "toeplitz" and dense.structure == "dense"
        n_traj = max(2, 16384 // n)  # enough work per step to hide the scan's overhead
        out = []
        for s in (fft, dense):
            steps = int(max(10, min(1000, 1e8 / (n_traj * n * (n if s is dense else 64)))))
            out.append(n / _rate(s, n_traj, steps))  # seconds per trajectory-step
        rows.append((n, *out))
        log(f"{n:>6} {out[0]:>12.3e} {out[1]:>12.3e} {out[1] / out[0]:>9.1f}")
        n *= 2
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--sizes", default="16x1024,128x1024,1000x256",
                    help="comma-separated NxTRAJECTORIES")
    ap.add_argument("--fft-max", type=int, default=4096, help="largest N of the FFT/dense table")
    a = ap.parse_args()
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind})")
    print("roofline = a fused scan step that only reads and writes q, v, Σv² (no force, no "
          "reduction): the bound for any step that streams the whole state once per time step")
    print(f"FPUT-β mean field: β = {BETA}, λ = {LAM} (O(N) power sums); profiles off")
    print(f"{'N':>6} {'traj':>6} {'model':>8} {'JAX p-steps/s':>14} {'NumPy p-steps/s':>16} "
          f"{'JAX/NumPy':>10} {'roofline':>10} {'JAX/roof':>9} {'FPUT/harm time':>15}")
    for spec in a.sizes.split(","):
        n, n_traj = (int(x) for x in spec.lower().split("x"))
        hj, hp, fj, fp = bench(n, n_traj, a.steps)
        r = roofline(n, n_traj, a.steps)
        for name, j, p in (("harmonic", hj, hp), ("FPUT", fj, fp)):
            extra = f"{hj / fj:>15.2f}" if name == "FPUT" else ""
            print(f"{n:>6} {n_traj:>6} {name:>8} {j:>14.3e} {p:>16.3e} {j / p:>10.1f} "
                  f"{r:>10.2e} {j / r:>9.0%}{extra}")
    print("\npower-law FPUT-β (α = 1.5): seconds per trajectory-step, FFT O(N log N) vs dense "
          "O(N²) forces")
    print(f"{'N':>6} {'FFT':>12} {'dense':>12} {'dense/FFT':>9}")
    rows = fft_vs_dense(a.fft_max, print)
    faster = [n for n, f, d in rows if d > f]
    cross = next((n for i, (n, f, d) in enumerate(rows)
                  if all(dd > ff for _, ff, dd in rows[i:])), None)
    print(f"crossover: the FFT step is faster from N = {cross} on "
          f"(faster at N = {faster}); at N = {rows[-1][0]}: {rows[-1][2] / rows[-1][1]:.1f}×")
    if jax.default_backend() == "gpu":
        n, n_traj, steps = 1000, 10_000, 2000
        m = np.asarray(from_kind("random", n, delta=0.1))
        chain = mf.MeanFieldChain(m, k=1.0, k0=0.1)
        kw = dict(chunk_size=500, progress=False)
        mf.simulate(chain, jax.random.PRNGKey(0), n_traj, 0.05, 500, 0, **kw)
        res = mf.simulate(chain, jax.random.PRNGKey(1), n_traj, 0.05, steps, 0, **kw)
        print(f"GPU N = {n} x {n_traj} trajectories: {n * n_traj * steps / res.wall_time:.3e} "
              f"particle-steps/s ({res.wall_time:.2f} s for {steps} steps)")
    else:
        print("no GPU: skipping the N = 1000 x 10^4 trajectories run")


if __name__ == "__main__":
    main()
