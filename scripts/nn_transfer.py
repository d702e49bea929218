"""Disordered nearest-neighbour chains at N ≫ 10³: J from a three-term recurrence (issue 13).

The dense secular solver behind ``networks.nearest_neighbour`` costs O(N³) and reaches
N ≈ 2048 on a 2-core CPU, where the fixed-end chains' exponent is 1.2, not yet the 3/2 of
Dhar (2001) and Ajanki & Huveneers (2011). A tridiagonal chain needs no eigenvectors:

  T(ω) = 4 γ² ω² |G_1N(ω)|²,  G_1N = k^(N−1) / det Z(ω),  Z = K − ω² M − iω Γ  (Eq. 17),

and det Z follows from the ratios r_i = D_i / D_{i−1} = d_i − k² / r_{i−1} (no overflow:
|det Z|² = Π |r_i|², kept as mantissa and exponent), one O(N) scan per frequency, vectorized over frequencies.
J = ΔT ∫_0^∞ T(ω) dω / (2π) is taken peak by peak: the undamped eigenfrequencies ω_j (of
M^(−1/2) K M^(−1/2), LAPACK tridiagonal solver) split [0, ∞) at ω_j and at the midpoints
between them; every half-interval is mapped by tanh-sinh onto t ∈ [−3.2, 3.2], clustered at
both ends, so that a Lorentzian of any width (down to ~1e-16 of the spacing) at ω_j is smooth
in t, and t is integrated adaptively (Gauss–Legendre 16 on pieces, error |G8 − G16|, the
worst pieces halved until a chunk's summed error is below 0.1·rtol·J, rtol = 1e-10). The
tail [2 ω_max, ∞) is mapped by ω = c/(1 − x). Peaks are taken in chunks of 64 from low ω
up, and the sum stops once a whole chunk adds less than 1e-3·rtol·J (the transmission of
mode j falls like e^(−2N/ξ(ω_j)) with ξ ∝ 1/ω², so the rest of the band adds less than the
number of remaining chunks times the last one; that bound is added to the estimate).

Cost: O(N) per frequency, ~200 frequencies per peak, and only the peaks with
ξ(ω) ≳ N/40 matter: measured 448, 576, 832 of N = 1024, 2048, 4096 (fixed ends, masses
1 ± 0.8), so about O(N^1.5) per chain (plus the O(N²) eigenvalues); N = 4096 in ~20 s on
one shared core (2026-12-02). Independent of
the package's solver (no eigenvectors, no poles, no residues): ``--check-n`` compares the
two on the same chains. Prints J ± standard error over realizations, local exponents and the
fitted exponent of J ∝ N^−a, and writes a figure.

Usage: python scripts/nn_transfer.py [--sizes 512 1024 ... 16384] [--realizations 8]
       [--delta 0.8] [--k-prime 1.0] [--check-n 64 256 1024] [--fit-min-n 4096]
       [--out docs/figures/nn_fixed_ends.png]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

import meanfield_jax as mf
from meanfield_jax import masses as mass_configs
from meanfield_jax import networks

jax.config.update("jax_enable_x64", True)

K, GAMMA = 1.0, 1.0
_T_MAX = 3.2  # tanh-sinh range: nodes within ~1e-17 of a half-interval's length of its ends
_PIECES = 4  # initial pieces of [-T_MAX, T_MAX] per half-interval
_CHUNK = 64  # peaks per chunk
_GAUSS = [np.polynomial.legendre.leggauss(n) for n in (8, 16)]


def _ts_map(t):
    """x(t) = (1 + tanh(π/2 sinh t)) / 2 in (0, 1) and dx/dt (tanh-sinh, both ends clustered)."""
    u = 0.5 * math.pi * np.sinh(t)
    x = 1.0 / (1.0 + np.exp(-2.0 * u))  # keeps relative accuracy as x → 0
    return x, 0.25 * math.pi * np.cosh(t) / np.cosh(u) ** 2


@jax.jit
def _transmittance(omega, diag, masses, damping, k):
    """T(ω) of the tridiagonal chain, vectorized over ω: one O(N) ratio recurrence.

    With q_i = r_i − k the recurrence r_i = d_i − k²/r_{i−1} reads
    r_i = (diag_i − k − ε_i) + k q_{i−1}/(k + q_{i−1}), ε_i = ω² m_i + iω γ_i, and
    q_i = (diag_i − 2k − ε_i) + k q_{i−1}/(k + q_{i−1}): the springs' k cancel exactly in
    diag_i − 2k, so a free chain's zero mode (det Z = O(ω) as ω → 0) keeps its accuracy.
    """
    w2 = omega * omega
    # complex arithmetic written out in reals (q = a + ib): XLA's complex division is slow
    a0 = (diag[0] - k) - w2 * masses[0]
    b0 = -omega * damping[0]
    r0 = (diag[0] - w2 * masses[0]) ** 2 + b0 * b0

    def step(carry, i):
        a, b, mant, expo = carry
        ka = k + a
        scale = k / (ka * ka + b * b)
        tail_re = scale * (a * ka + b * b)  # k q / (k + q)
        tail_im = scale * (b * ka - a * b)
        re_eps = w2 * masses[i]
        im = tail_im - omega * damping[i]
        r_re = (diag[i] - k - re_eps) + tail_re
        a = (diag[i] - 2.0 * k - re_eps) + tail_re
        mant, e = jnp.frexp(mant * (r_re * r_re + im * im))  # Π|r|², no overflow
        return (a, im, mant, expo + e), None

    mant0, expo0 = jnp.frexp(r0)
    (_, _, mant, expo), _ = jax.lax.scan(step, (a0, b0, mant0, expo0),
                                         jnp.arange(1, masses.shape[0]))
    n = masses.shape[0]
    log_g = (n - 1) * jnp.log(k) - 0.5 * (jnp.log(mant) + expo * math.log(2.0))
    t = 4.0 * damping[0] * damping[-1] * w2 * jnp.exp(2.0 * log_g)
    return jnp.where(omega > 1e-100, t, 0.0)  # ω = 0 (a zero mode's node): weight ~1e-17


def _evaluate(omega, args):
    """T at the frequencies ``omega``, padded to a power of two (one compilation per size)."""
    size = max(1024, 1 << (omega.size - 1).bit_length())
    padded = np.ones(size)
    padded[:omega.size] = omega
    return np.asarray(_transmittance(jnp.asarray(padded), *args))[:omega.size]


def flux_transfer(masses, *, k=K, gamma=GAMMA, k_prime=0.0, k0=0.0, rtol=1e-10):
    """J / ΔT of the nearest-neighbour chain by the recurrence (see module docstring).

    Every half-interval [ω_j, ω_j ± L] is mapped by tanh-sinh onto t ∈ [−3.2, 3.2] (a
    Lorentzian of any width at ω_j or at the interval's far end is smooth in t), and t is
    integrated adaptively: Gauss–Legendre 16 on each piece, error |G8 − G16|, the worst pieces
    halved until the chunk's summed error is below 0.1 rtol J or every remaining piece's
    error is at the rounding level of T (N·ε of the piece). Returns (J, error estimate,
    number of peaks summed).
    """
    m = np.asarray(masses, dtype=np.float64)
    n = m.shape[0]
    diag = np.full(n, 2.0 * k + k0)
    diag[0] = diag[-1] = k + k_prime + k0
    damping = np.zeros(n)
    damping[0] = damping[-1] = gamma
    s = 1.0 / np.sqrt(m)
    lam = scipy.linalg.eigh_tridiagonal(diag * s * s, -k * s[:-1] * s[1:],
                                        eigvals_only=True)  # all ω_j², O(N²)
    omega_j = np.sqrt(np.clip(lam, 0.0, None))
    mids = np.concatenate([[0.0], 0.5 * (omega_j[1:] + omega_j[:-1]), [2.0 * omega_j[-1]]])
    args = (jnp.asarray(diag), jnp.asarray(m), jnp.asarray(damping), k)

    def integrate(start, length, t_lo, t_hi):
        """G16 and |G8 − G16| on pieces [t_lo, t_hi] of half-intervals ω = start + length x(t)."""
        def change(t):
            x, dx = _ts_map(t)
            return start[:, None] + length[:, None] * x, np.abs(length)[:, None] * dx
        return _gauss_pieces(change, t_lo, t_hi, args)

    total, error, last, j = 0.0, 0.0, math.inf, 0
    edges = np.linspace(-_T_MAX, _T_MAX, _PIECES + 1)
    while j <= n:
        hi = min(j + _CHUNK, n)
        if j < n:  # the half-intervals [ω_j, mid_{j-1}] and [ω_j, mid_j], nodes clustered at ω_j
            peak = omega_j[j:hi]
            start = np.concatenate([peak, peak])
            length = np.concatenate([mids[j:hi] - peak, mids[j + 1:hi + 1] - peak])
            keep = length != 0  # the zero mode's empty left half (free ends)
            start, length = start[keep], length[keep]
        else:  # the tail [2 ω_max, ∞): ω = c / (1 − x), T ∝ ω^(2−4N)
            start, length = np.array([mids[-1]]), None
        count = start.shape[0]
        start = np.repeat(start, _PIECES)
        t_lo = np.tile(edges[:-1], count)
        t_hi = np.tile(edges[1:], count)
        if length is None:
            val, err = _tail(mids[-1], t_lo, t_hi, args)
        else:
            length = np.repeat(length, _PIECES)
            val, err = integrate(start, length, t_lo, t_hi)
        for _ in range(60):  # halve the worst pieces until the chunk's error is small
            target = 0.1 * rtol * max(total + val.sum(), 1e-300)
            if err.sum() <= target:
                break
            # a piece whose |G8 − G16| is already at the rounding level of T (relative N·ε)
            # is not split again: halving cannot shrink it, and splitting every such piece
            # doubles the work each round (the sum of these floors is ≤ N·ε·J, below target)
            floor = n * np.finfo(float).eps * np.abs(val)
            split = (err > min(err.max(), target / err.size) * 0.5) & (err > floor)
            if not split.any():
                break
            mid_t = 0.5 * (t_lo[split] + t_hi[split])
            new_lo = np.concatenate([t_lo[split], mid_t])
            new_hi = np.concatenate([mid_t, t_hi[split]])
            new_start = np.tile(start[split], 2)
            if length is None:
                new_val, new_err = _tail(mids[-1], new_lo, new_hi, args)
            else:
                new_len = np.tile(length[split], 2)
                new_val, new_err = integrate(new_start, new_len, new_lo, new_hi)
                length = np.concatenate([length[~split], new_len])
            start = np.concatenate([start[~split], new_start])
            t_lo = np.concatenate([t_lo[~split], new_lo])
            t_hi = np.concatenate([t_hi[~split], new_hi])
            val = np.concatenate([val[~split], new_val])
            err = np.concatenate([err[~split], new_err])
        total += val.sum()
        error += err.sum()
        last = val.sum()
        if j == n:
            break
        j = hi
        if j >= 4 * _CHUNK and j < n and last < 1e-3 * rtol * total:
            break
    # the peaks not summed: T of mode j falls like e^(−2N/ξ(ω_j)), ξ decreasing in ω
    remaining = math.ceil((n - j) / _CHUNK) if j < n else 0
    return total, error + remaining * last, j


def _tail(c, t_lo, t_hi, args):
    """G16 and |G8 − G16| of ∫_c^∞ T dω / 2π on pieces of t, ω = c / (1 − x(t))."""
    def change(t):
        _, dx = _ts_map(t)
        one_minus_x = 1.0 / (1.0 + np.exp(np.pi * np.sinh(t)))  # 1 − x without cancellation
        return c / one_minus_x, c * dx / one_minus_x ** 2
    return _gauss_pieces(change, t_lo, t_hi, args)


def _gauss_pieces(change, t_lo, t_hi, args):
    """G16 and |G8 − G16| of ∫ T(ω(t)) ω'(t) dt / 2π on each piece [t_lo, t_hi];
    ``change(t)`` gives ω and dω/dt at the nodes (one row per piece)."""
    out = []
    for nodes, weights in _GAUSS:
        half = 0.5 * (t_hi - t_lo)[:, None]
        omega, jac = change(0.5 * (t_hi + t_lo)[:, None] + half * nodes[None, :])
        tr = _evaluate(omega.ravel(), args).reshape(omega.shape)
        out.append(np.sum(tr * jac * weights[None, :] * half, axis=1) / (2 * math.pi))
    return out[1], np.abs(out[1] - out[0])


def _masses(n, r, delta):
    return np.asarray(mass_configs.uniform(mass_configs.realization_key(0, n, r), n, 1.0,
                                           delta))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[512, 1024, 2048, 4096, 8192, 16384])
    p.add_argument("--realizations", type=int, default=8)
    p.add_argument("--delta", type=float, default=0.8)
    p.add_argument("--k-prime", type=float, default=1.0, help="wall springs (0: free ends)")
    p.add_argument("--check-n", type=int, nargs="*", default=[64, 256, 1024])
    p.add_argument("--fit-min-n", type=float, default=4096)
    p.add_argument("--out", default=None, help="figure path (none: no figure)")
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "nn_transfer.npz"),
                   help="npz of finished chains; a rerun resumes from it ('' for none)")
    args = p.parse_args()

    print(f"nearest-neighbour chain, masses 1 ± {args.delta:g}, k = γ = 1, k' = "
          f"{args.k_prime:g}")
    for n in args.check_n:  # the package's exact secular solver on the same chain
        m = _masses(n, 0, args.delta)
        j, err, peaks = flux_transfer(m, k_prime=args.k_prime)
        ref = mf.heat_flux_with_error(networks.nearest_neighbour(m, k_prime=args.k_prime))
        print(f"  check N = {n:5d}: recurrence J = {j:.15e} (est {err:.1e}, {peaks} peaks), "
              f"secular solver {float(ref.flux):.15e} (est {float(ref.error_estimate):.1e}); "
              f"relative difference {abs(j / float(ref.flux) - 1):.1e}", flush=True)

    cache = {}
    if args.cache and os.path.exists(args.cache):
        with np.load(args.cache) as data:
            cache = {key: tuple(data[key]) for key in data.files}
    means, errs = [], []
    for n in args.sizes:
        t0 = time.perf_counter()
        vals, worst = [], 0.0
        for r in range(args.realizations):
            key = f"{args.delta}|{args.k_prime}|{n}|{r}"
            if key not in cache:
                cache[key] = flux_transfer(_masses(n, r, args.delta), k_prime=args.k_prime)[:2]
                if args.cache:  # resumable: every chain saved (atomically) as it finishes
                    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.cache)),
                                               suffix=".npz")
                    os.close(fd)
                    np.savez(tmp, **{key_: np.array(v) for key_, v in cache.items()})
                    os.replace(tmp, args.cache)
            j, err = cache[key]
            vals.append(j)
            worst = max(worst, err / j)
        vals = np.array(vals)
        means.append(vals.mean())
        errs.append(vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0)
        local = ("" if len(means) < 2 else
                 f"  local a {-math.log(means[-1] / means[-2]) / math.log(n / args.sizes[len(means) - 2]):.3f}")
        print(f"  N = {n:6d}  J = {means[-1]:.6e} ± {errs[-1]:.1e}  (R = {len(vals)}, worst "
              f"estimate {worst:.0e} relative, {time.perf_counter() - t0:.1f} s){local}",
              flush=True)
    sizes = np.array(args.sizes, dtype=float)
    means, errs = np.array(means), np.array(errs)
    label = "recurrence"
    if np.sum(sizes >= args.fit_min_n) >= 2:
        a, da, _, _ = mf.fit_power_law(sizes, means, errs, min_n=args.fit_min_n)
        print(f"  J ∝ N^-a over N >= {args.fit_min_n:g}: a = {a:.3f} ± {da:.3f}")
        label = f"$J \\propto N^{{-{a:.2f}\\pm{da:.2f}}}$ (N ≥ {args.fit_min_n:g})"
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        ax.errorbar(sizes, means * sizes ** 1.5, yerr=errs * sizes ** 1.5, marker="o", ms=4,
                    label=label)
        ax.set(xscale="log", yscale="log", xlabel="N", ylabel="$N^{3/2} J / ΔT$",
               title=f"NN chain, k' = {args.k_prime:g}, masses 1 ± {args.delta:g}, "
                     f"R = {args.realizations}")
        ax.legend(frameon=False)
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"  figure: {args.out}")


if __name__ == "__main__":
    main()
