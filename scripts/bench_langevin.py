"""Throughput of the Langevin simulator: particle-steps per second, JAX vs NumPy.

The NumPy reference is the same BAOAB integrator for a MeanFieldChain (O(N) force), vectorised
over trajectories ((n_traj, N) arrays, ``Generator.standard_normal`` for the bath noise),
measured in the same process. On a GPU it also reports N = 1000 × 10⁴ trajectories.
A third column bounds what a step streaming this state could reach (``roofline``): the rate of
a fused step that only streams q, v and Σv² through memory.

Usage: python scripts/bench_langevin.py [--steps 2000] [--sizes 16x1024,128x1024,1000x256]
"""

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

import meanfield_jax as mf
from meanfield_jax.masses import from_kind


def numpy_baoab(masses, k, k0, n_tilde, gamma, t_left, t_right, dt, n_steps, n_traj, seed=0):
    """Reference: identical scheme and observables (Σv², O-step heat), NumPy only."""
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
    a = (b * q.sum(1, keepdims=True) - diag * q) * inv_m
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
        a = (b * q.sum(1, keepdims=True) - diag * q) * inv_m
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


def bench(n, n_traj, steps):
    m = np.asarray(from_kind("random", n, delta=0.1))
    chain = mf.MeanFieldChain(m, k=1.0, k0=0.1, t_left=1.0, t_right=0.0)
    kw = dict(chunk_size=steps, progress=False)
    mf.simulate(chain, jax.random.PRNGKey(0), n_traj, 0.05, steps, 0, **kw)  # compile
    res = mf.simulate(chain, jax.random.PRNGKey(1), n_traj, 0.05, steps, 0, **kw)
    jax_rate = n * n_traj * steps / res.wall_time
    np_steps = max(20, steps // 10)
    t0 = time.perf_counter()
    numpy_baoab(m, 1.0, 0.1, n - 1.0, 1.0, 1.0, 0.0, 0.05, np_steps, n_traj)
    np_rate = n * n_traj * np_steps / (time.perf_counter() - t0)
    return jax_rate, np_rate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--sizes", default="16x1024,128x1024,1000x256",
                    help="comma-separated NxTRAJECTORIES")
    a = ap.parse_args()
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind})")
    print("roofline = a fused scan step that only reads and writes q, v, Σv² (no force, no "
          "reduction): the bound for any step that streams the whole state once per time step")
    print(f"{'N':>6} {'traj':>7} {'JAX p-steps/s':>15} {'NumPy p-steps/s':>16} {'ratio':>7} "
          f"{'roofline':>10} {'JAX/roof':>9} {'roof/NumPy':>11}")
    for spec in a.sizes.split(","):
        n, n_traj = (int(x) for x in spec.lower().split("x"))
        j, p = bench(n, n_traj, a.steps)
        r = roofline(n, n_traj, a.steps)
        print(f"{n:>6} {n_traj:>7} {j:>15.3e} {p:>16.3e} {j / p:>7.1f} {r:>10.2e} "
              f"{j / r:>9.0%} {r / p:>11.1f}")
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
