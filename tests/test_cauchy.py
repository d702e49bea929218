"""Hierarchical Cauchy sums (``_cauchy``) against a direct extended-precision oracle.

The oracle sums Σ w_j/(x − d_j) in NumPy long double (64-bit mantissa on x86) with the
same exact pole distances (d_j − d[o]) − τ, so its own error (~1e-19 relative to the
magnitude) is far below what is tested. Every test checks, at every target, that the
actual error is at most the returned bound (truncation bound + rounding allowance), and for
the point sets of the pole solver that the truncation bound itself is ≤ 1e-15 relative to
Σ|w_j|/|x − d_j| (value) and ≤ 1e-13 relative to Σ|w_j|/|x − d_j|² (derivative).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield_jax import _cauchy

LD = np.longdouble


def oracle(d, w, origin, tau, split):
    """(value, value_left, derivative, derivative_left, magnitude, magnitude_derivative)
    in long double, chunked over targets."""
    d = np.asarray(d, LD)
    wr, wi = np.asarray(w.real, LD), np.asarray(w.imag, LD)
    wa = np.sqrt(wr * wr + wi * wi)
    out = []
    index = np.arange(d.shape[0])
    for lo in range(0, len(origin), 256):
        o = origin[lo:lo + 256]
        t = tau[lo:lo + 256]
        sp = split[lo:lo + 256]
        dr = (d[None, :] - d[o][:, None]) - np.asarray(t.real, LD)[:, None]  # d_j − x
        di = -np.asarray(t.imag, LD)[:, None] * np.ones_like(dr)
        q = dr * dr + di * di
        ir, ii = dr / q, -di / q  # 1/(d_j − x)
        sr, si = ir * ir - ii * ii, 2 * ir * ii
        vr, vi = -(wr * ir - wi * ii), -(wr * ii + wi * ir)
        gr, gi = -(wr * sr - wi * si), -(wr * si + wi * sr)
        left = index[None, :] < sp[:, None]
        rows = [vr.sum(1) + 1j * vi.sum(1).astype(float),
                np.where(left, vr, 0).sum(1) + 1j * np.where(left, vi, 0).sum(1).astype(float),
                gr.sum(1) + 1j * gi.sum(1).astype(float),
                np.where(left, gr, 0).sum(1) + 1j * np.where(left, gi, 0).sum(1).astype(float),
                (wa / np.sqrt(q)).sum(1), (wa / q).sum(1)]
        out.append([np.asarray(r.real.astype(float) + 1j * r.imag.astype(float))
                    if np.iscomplexobj(r) else r.astype(float) for r in rows])
    return [np.concatenate([c[k] for c in out]) for k in range(6)]


def gap_targets(d, rng, frac=None, imag=1e-12):
    """One target per gap, origin at the nearer end, τ a random fraction of the half gap."""
    n = d.shape[0]
    gaps = np.arange(n - 1)
    half = 0.5 * (d[1:] - d[:-1])
    frac = rng.uniform(0.0, 1.0, n - 1) if frac is None else frac
    left = rng.uniform(size=n - 1) < 0.5
    origin = np.where(left, gaps, gaps + 1)
    tau = np.where(left, frac * half, -frac * half) + 1j * imag * np.maximum(half, 1e-300)
    return origin, tau, gaps + 1  # split: sources left of the gap


def check(d, w, origin, tau, split, value_rel=1e-15, deriv_rel=1e-13):
    r = _cauchy.cauchy_sums(d, w, origin, tau, split)
    ref = oracle(d, w, origin, tau, split)
    err_v = np.abs(np.asarray(r.value) - ref[0])
    err_vl = np.abs(np.asarray(r.value_left) - ref[1])
    err_d = np.abs(np.asarray(r.derivative) - ref[2])
    err_dl = np.abs(np.asarray(r.derivative_left) - ref[3])
    bound, dbound = np.asarray(r.error), np.asarray(r.derivative_error)
    for name, err, b in (("value", err_v, bound), ("value_left", err_vl, bound),
                         ("derivative", err_d, dbound), ("derivative_left", err_dl, dbound)):
        k = np.argmax(err / b)
        assert err[k] <= b[k], (name, k, err[k] / b[k], err[k] / ref[4 if b is bound else 5][k])
    mag, mag2 = ref[4], ref[5]
    # the magnitudes: near part exact, far part at Re x (an upper estimate)
    assert np.all(np.asarray(r.magnitude) >= mag * (1 - 1e-12))
    assert np.all(np.asarray(r.magnitude_derivative) >= mag2 * (1 - 1e-12))
    if np.max(np.abs(np.imag(tau))) < 1e-9:
        np.testing.assert_allclose(np.asarray(r.magnitude), mag, rtol=1e-10)
        np.testing.assert_allclose(np.asarray(r.magnitude_derivative), mag2, rtol=1e-10)
    allowance = _cauchy.rounding_allowance(_cauchy.tree_shape(len(d)).levels)
    trunc = bound - allowance * np.asarray(r.magnitude)
    dtrunc = dbound - allowance * np.asarray(r.magnitude_derivative)
    assert np.all(trunc <= value_rel * mag), (trunc / mag).max()
    assert np.all(dtrunc <= deriv_rel * mag2), (dtrunc / mag2).max()
    return max((err_v / bound).max(), (err_d / dbound).max())


# One size for most tests (N = 1000: L = 4 levels, 999 targets) so that the default suite
# compiles few programs; more sizes and N = 2·10⁴ are marked slow.
N = 1000


@pytest.mark.parametrize("n", [2, 47, N, pytest.param(193, marks=pytest.mark.slow),
                               pytest.param(4097, marks=pytest.mark.slow)])
def test_random_points_complex_weights(n):
    rng = np.random.default_rng(n)
    d = np.sort(rng.uniform(1.0, 2.0, n))
    w = rng.normal(size=n) + 1j * rng.normal(size=n)
    check(d, w, *gap_targets(d, rng))


def test_targets_at_rounding_distance_and_clustered_pairs():
    """Pairs of sources 1e-10 apart (relative), targets 1e-6 of a gap from a source."""
    rng = np.random.default_rng(5)
    base = np.sort(rng.uniform(1.0, 2.0, N // 2))
    d = np.sort(np.concatenate([base, base * (1 + 1e-10)]))
    w = rng.uniform(0.5, 1.5, d.shape[0]) + 0j
    origin, tau, split = gap_targets(d, rng, frac=rng.uniform(1e-6, 1e-5, d.shape[0] - 1))
    check(d, w, origin, tau, split)


@pytest.mark.parametrize("delta", [0.1, 0.9])
def test_bulk_frequencies_of_random_masses(delta):
    """The pole solver's sources: ω_n = sqrt(κ/m_n), masses uniform in [1 − δ, 1 + δ]
    (δ = 0.9: densities differing by 80 across the band, the graded worst case)."""
    rng = np.random.default_rng(7)
    n = N
    d = np.sort(np.sqrt(1.02 / rng.uniform(1 - delta, 1 + delta, n)))
    w = d / 2.04 + 0j  # the weights of 1/(ω_n − ω) in h(ω)
    check(d, w, *gap_targets(d, rng))


def test_log_uniform_masses():
    rng = np.random.default_rng(8)
    d = np.sort(np.sqrt(1.0 / np.exp(rng.uniform(np.log(1e-2), np.log(1e2), N))))
    check(d, np.ones(N) + 0j, *gap_targets(d, rng))


def test_complex_targets_off_axis():
    """Targets a fraction of the local spacing off the axis: the bound grows with the
    Bernstein ellipse through t_x and still holds; far off the axis it is honest (large)."""
    rng = np.random.default_rng(9)
    n = N
    d = np.sort(rng.uniform(1.0, 2.0, n))
    w = rng.normal(size=n) + 0j
    origin, tau, split = gap_targets(d, rng, imag=0.0)
    tau = tau + 1j * rng.uniform(0, 3, n - 1) * (d[1] - d[0] + 1.0 / n)
    # (the leaf's series evaluated off its interval: rounding grows like ρ_x^p, and so does
    # the allowance; only error ≤ bound is asserted)
    check(d, w, origin, tau, split, value_rel=np.inf, deriv_rel=np.inf)
    # far off the axis (0.3: ~10 leaves): an honest, large bound
    origin = np.full(n - 1, n // 2)
    tau = np.linspace(0.01, 0.3, n - 1) * 1j
    r = _cauchy.cauchy_sums(d, w, origin, tau, origin)
    ref = oracle(d, w, origin, tau, origin)
    assert np.all(np.abs(np.asarray(r.value) - ref[0]) <= np.asarray(r.error))


def test_equal_sources_and_zero_weights():
    rng = np.random.default_rng(10)
    d = np.sort(np.concatenate([np.repeat(rng.uniform(1.0, 2.0, 333), 3), [2.5]]))
    w = rng.normal(size=N) + 0j
    w[::7] = 0.0
    distinct = np.flatnonzero(np.diff(d) > 0)
    origin = np.resize(distinct, N - 1)  # (repeated: the same 999 targets as elsewhere)
    tau = 0.3 * (d[origin + 1] - d[origin]) + 0j
    check(d, w, origin, tau, origin + 1)


def test_matches_direct_method_and_compiles_once():
    rng = np.random.default_rng(11)
    n = N
    d = jnp.asarray(np.sort(rng.uniform(1.0, 2.0, n)))
    origin, tau, split = gap_targets(np.asarray(d), rng)
    w = jnp.asarray(rng.normal(size=n) + 0j)
    fast = _cauchy.cauchy_sums(d, w, origin, tau, split)
    direct = _cauchy.direct_cauchy_sums(d, w, origin, tau, split)
    np.testing.assert_allclose(fast.value, direct.value, rtol=0, atol=float(jnp.max(fast.error)))
    # a tree built once, evaluated at the targets: the same numbers
    tree = _cauchy.build_tree(d, w, p=_cauchy.DEFAULT_DEGREE, leaf=_cauchy.DEFAULT_LEAF)
    again = _cauchy.evaluate_tree(tree, origin, tau, split, p=_cauchy.DEFAULT_DEGREE,
                                  leaf=_cauchy.DEFAULT_LEAF)
    np.testing.assert_allclose(again.value, fast.value, rtol=0, atol=float(jnp.max(fast.error)))
    with jax.log_compiles(False):
        count = _cauchy._cauchy_sums_jit._cache_size()
        _cauchy.cauchy_sums(d * 1.1, w * 2.0, origin, tau * 1.1, split)
        assert _cauchy._cauchy_sums_jit._cache_size() == count


def test_forward_mode():
    """One jvp through weights and offsets together: d S = S(dw) + S'·dτ."""
    rng = np.random.default_rng(12)
    d = np.sort(rng.uniform(1.0, 2.0, N))
    origin, tau, split = gap_targets(d, rng)
    w = jnp.asarray(rng.normal(size=N) + 0j)
    dw = jnp.asarray(rng.normal(size=N) + 0j)
    dtau = jnp.asarray(rng.normal(size=N - 1) * 1e-3 * np.abs(tau) + 0j)
    _, tangent = jax.jvp(lambda w, t: _cauchy.cauchy_sums(d, w, origin, t, split).value,
                         (w, jnp.asarray(tau)), (dw, dtau))
    at = _cauchy.cauchy_sums(d, w, origin, tau, split)
    linear = _cauchy.cauchy_sums(d, dw, origin, tau, split)
    expected = linear.value + at.derivative * dtau
    atol = linear.error + at.derivative_error * jnp.abs(dtau)
    assert np.all(np.abs(np.asarray(tangent - expected)) <= 4 * np.asarray(atol))


@pytest.mark.slow
def test_vmap_over_systems():
    rng = np.random.default_rng(13)
    d = np.sort(rng.uniform(1.0, 2.0, N))
    origin, tau, split = gap_targets(d, rng)
    ws = jnp.asarray(rng.normal(size=(2, N)) + 0j)
    fn = jax.jit(jax.vmap(lambda w: _cauchy._cauchy_sums(jnp.asarray(d), w, origin, tau, split,
                                                           _cauchy.DEFAULT_DEGREE,
                                                           _cauchy.DEFAULT_LEAF)))
    batched = fn(ws)
    for k in range(2):
        single = _cauchy.cauchy_sums(d, ws[k], origin, tau, split)
        np.testing.assert_allclose(batched.value[k], single.value, rtol=0,
                                   atol=float(jnp.max(single.error)))


@pytest.mark.slow
@pytest.mark.parametrize("n", [3_001, 20_000])
def test_large(n):
    rng = np.random.default_rng(n)
    for d in (np.sort(rng.uniform(1.0, 2.0, n)),
              np.sort(np.sqrt(1.02 / rng.uniform(0.9, 1.1, n))),
              np.sort(np.sqrt(1.02 / rng.uniform(0.1, 1.9, n))),
              np.sort(np.sqrt(1.0 / np.exp(rng.uniform(np.log(1e-2), np.log(1e2), n))))):
        w = rng.normal(size=n) + 1j * rng.normal(size=n)
        check(d, w, *gap_targets(d, rng))
