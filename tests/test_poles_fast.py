"""The O(N) residue flux and temperatures (``_poles_fast``) against the O(N²) residue path
and, for T_n, the refined Lyapunov oracle.

Both paths locate the same zeros with the same secular iteration and form the same residue
terms; the fast one takes every bulk sum from the hierarchical Cauchy tree (exact near field,
far-field bound) and a panel interpolant of the mirror poles. J must agree to 1e-12 relative
(measured: ≤ 3e-16 at N ≤ 1000), the error estimate must cover the difference and stay at
the O(N²) path's level (its rounding term 16ε(N+4)Σ|t_p| dominates both), and when the
bounds are too large the result must say so (converged False, the estimate still covering
the true error).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf
from meanfield_jax import _poles_fast
from meanfield_jax._poles import flux_by_residues, temperatures_by_residues
from meanfield_jax._poles_fast import flux_by_residues_fast, temperatures_by_residues_fast


def _masses(kind, n, rng):
    if kind == "random 0.1":
        return rng.uniform(0.9, 1.1, n)
    if kind == "random 0.9":
        return rng.uniform(0.1, 1.9, n)
    if kind == "graded":
        return np.linspace(0.1, 1.9, n)
    if kind == "log-uniform":  # mass ratio 1e4
        return np.exp(rng.uniform(np.log(0.01), np.log(100.0), n))
    if kind == "pairs 1e-9":  # clustered: pairs of masses 1e-9 apart
        m = rng.uniform(0.9, 1.1, n // 2 + 1)
        return np.stack([m, m + 1e-9], axis=1).ravel()[:n]
    raise ValueError(kind)


KINDS = ["random 0.1", "random 0.9", "graded"]
PARAMS = [(0.0, "kac"), (0.0, 1.0), (0.02, "kac"), (0.02, 1.0)]


def _chains(n, kinds, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for kind in kinds:
        m = _masses(kind, n, rng)
        for k0, n_tilde in PARAMS:
            out.append(((kind, k0, n_tilde),
                        mf.MeanFieldChain(m, k=1.0, k0=k0, n_tilde=n_tilde, gamma=1.0)))
    return out


def _stack(chains):
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *chains)


_fast = jax.jit(jax.vmap(flux_by_residues_fast))
_reference = jax.jit(jax.vmap(flux_by_residues))


def _compare(n, kinds, rtol=1e-12):
    labelled = _chains(n, kinds)
    batch = _stack([c for _, c in labelled])
    fast, ref = _fast(batch), _reference(batch)
    j_f, j_r = np.asarray(fast.value), np.asarray(ref.value)
    err_f, err_r = np.asarray(fast.error_estimate), np.asarray(ref.error_estimate)
    diff = np.abs(j_f - j_r)
    for i, (label, _) in enumerate(labelled):
        assert bool(ref.converged[i]), label
        assert bool(fast.converged[i]), label
        assert diff[i] <= rtol * abs(j_r[i]), (label, diff[i] / abs(j_r[i]))
        # honest: the estimate covers the difference (up to the reference's own error)
        assert diff[i] <= err_f[i] + err_r[i], label
        # and is not inflated: the far-field part is below the rounding term
        assert err_f[i] <= 2.0 * err_r[i] + 1e-15 * abs(j_r[i]), label
    np.testing.assert_array_equal(np.asarray(fast.diagnostics.sum_rule_error) < 1e-8, True)
    return diff / np.abs(j_r)


def test_fast_flux_equals_quadratic_path_n300():
    _compare(300, KINDS)


@pytest.mark.slow  # 10⁴ and 3·10⁴: issue 15's acceptance sizes (~4 min on 2 cores)
@pytest.mark.parametrize("n", [1000, 3000, 10_000, 30_000])
def test_fast_flux_equals_quadratic_path(n):
    _compare(n, KINDS + ["log-uniform", "pairs 1e-9"])


@pytest.mark.slow  # compiles further FMM variants (~1 min); the N = 300 comparison stays default
def test_large_bound_is_reported(monkeypatch):
    """A mirror interpolant of degree 3 (bound ~1e-4 of the mirror sum): converged False, and
    the error estimate still covers the true error."""
    monkeypatch.setattr(_poles_fast, "_MIRROR_DEGREE", 3)
    m = np.random.default_rng(5).uniform(0.1, 1.9, 300)
    chain = mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde=1.0, gamma=1.0)
    fast = jax.jit(flux_by_residues_fast)(chain)
    ref = jax.jit(flux_by_residues)(chain)
    assert not bool(fast.converged)
    diff = abs(float(fast.value) - float(ref.value))
    assert diff <= float(fast.error_estimate) + float(ref.error_estimate)


@pytest.mark.slow  # compiles further FMM variants (~1 min); the N = 300 comparison stays default
def test_no_gaps_and_padding():
    """Identical masses (no gaps) and a chain padded to a size bucket (inert entries)."""
    from meanfield_jax._buckets import pad_chain

    same = mf.MeanFieldChain(np.full(300, 1.3), k=1.0, k0=0.02, n_tilde=1.0, gamma=1.0)
    a, b = flux_by_residues_fast(same), flux_by_residues(same)
    assert float(a.value) == pytest.approx(float(b.value), rel=1e-13)
    m = np.random.default_rng(2).uniform(0.5, 1.5, 300)
    chain = mf.MeanFieldChain(m, k=1.0, k0=0.0, n_tilde="kac", gamma=1.0)
    padded, n = pad_chain(chain, 400)
    a = jax.jit(flux_by_residues_fast)(padded, n)
    b = jax.jit(flux_by_residues)(chain)
    assert bool(a.converged)
    assert float(a.value) == pytest.approx(float(b.value), rel=1e-12)
    # T_n: identical masses (the particular solution) and the padded chain, trimmed
    t_same, _, ok = jax.jit(temperatures_by_residues_fast)(same)[:3]
    t_ref, _, _ = jax.jit(temperatures_by_residues)(same)[:3]
    assert bool(ok)
    np.testing.assert_allclose(t_same, t_ref, rtol=0, atol=1e-13)
    t_pad, e_pad, ok = jax.jit(temperatures_by_residues_fast)(padded, n)[:3]
    t_ref, _, _ = jax.jit(temperatures_by_residues)(chain)[:3]
    assert bool(ok)
    kept = np.r_[0:n - 1, padded.n - 1]  # the padded particles sit before particle N
    np.testing.assert_allclose(np.asarray(t_pad)[kept], t_ref, rtol=0, atol=1e-11)
    assert np.all(np.asarray(t_pad)[n - 1:-1] == 0) and np.all(np.asarray(e_pad)[n - 1:-1] == 0)


def test_auto_runs_the_fast_path_above_4096_only():
    """``method="auto"``: the O(N) flux and T_n for chains with N > FMM_ABOVE (4096, a bucket
    size, so every bucket has one program), the O(N²) path below, networks unchanged."""
    from meanfield_jax import networks
    from meanfield_jax._ensemble import _flux_auto_one, _flux_fmm_one, flux_fn
    from meanfield_jax._transport import FMM_ABOVE, resolve_method

    assert FMM_ABOVE == 4096
    long, short = (mf.MeanFieldChain(np.ones(n), k=1.0) for n in (FMM_ABOVE + 1, FMM_ABOVE))
    assert resolve_method(long, "auto") == "residues-fmm"
    assert resolve_method(short, "auto") == "residues"
    assert resolve_method(long, "residues") == "residues"
    assert resolve_method(networks.nearest_neighbour(np.ones(4)), "auto") == "residues"
    batch = mf.batch_chains(np.ones((2, FMM_ABOVE + 1)))
    assert resolve_method(batch, "auto") == "residues-fmm"
    assert flux_fn("auto") is _flux_auto_one and flux_fn("residues-fmm") is _flux_fmm_one


@pytest.mark.slow  # compiles the O(N²) path's derivative (~20 s)
def test_fast_flux_derivatives_are_the_quadratic_paths():
    """jax.grad through the O(N) flux (plain and padded to a bucket) equals the O(N²)
    path's gradient and a central finite difference of the fast values."""
    from meanfield_jax._buckets import pad_chain

    m = np.random.default_rng(3).uniform(0.9, 1.1, 300)

    def flux(fn, k, k0, *extra):
        return fn(mf.MeanFieldChain(m, k=k, k0=k0, n_tilde="kac", gamma=1.0), *extra).value

    g_fast = jax.grad(lambda p: flux(flux_by_residues_fast, *p), argnums=0)((1.0, 0.02))
    g_ref = jax.grad(lambda p: flux(flux_by_residues, *p), argnums=0)((1.0, 0.02))
    np.testing.assert_allclose(np.array(g_fast), np.array(g_ref), rtol=1e-12)
    h = 1e-5
    fast = jax.jit(flux_by_residues_fast)
    fd = (float(fast(mf.MeanFieldChain(m, k=1.0 + h, k0=0.02)).value)
          - float(fast(mf.MeanFieldChain(m, k=1.0 - h, k0=0.02)).value)) / (2 * h)
    assert float(g_fast[0]) == pytest.approx(fd, rel=1e-7)
    chain = mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde="kac", gamma=1.0)
    padded, n = pad_chain(chain)
    g_pad = jax.grad(lambda k: flux_by_residues_fast(padded.replace(k=k), n).value)(1.0)
    assert float(g_pad) == pytest.approx(float(g_ref[0]), rel=1e-9)


def test_fast_flux_gradient_below_the_interpolated_gap_path():
    """jax.grad of the public O(N) flux at N = 12 (the O(N²) path without interpolated gap
    guesses, whose iteration counters were int64 against the fast path's int32: the custom
    JVP refused them) equals the O(N²) path's gradient."""
    m = np.random.default_rng(4).uniform(0.9, 1.1, 12)
    chain = mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde=1.0, gamma=0.8)
    g_fast = jax.grad(lambda c: mf.heat_flux(c, method="residues-fmm"))(chain)
    g_ref = jax.grad(lambda c: mf.heat_flux(c, method="residues"))(chain)
    # the same derivative formulas in two separately compiled programs: equal to rounding
    # (2.7e-12 relative seen on a component 1e-3 of the largest)
    for name in ("k", "k0", "gamma", "masses"):
        np.testing.assert_allclose(np.asarray(getattr(g_fast, name)),
                                   np.asarray(getattr(g_ref, name)), rtol=1e-10, atol=0)


@pytest.mark.slow  # refined Lyapunov references at N = 400 (~1 min)
def test_fast_flux_error_estimate_covers_refined_lyapunov():
    """The fast path's error estimate (tree bounds per term + the blocked final sum's
    rounding, ~5e-13 relative) bounds the actual error against an independent reference
    (steady-state Lyapunov equation with long-double residual refinement), and is not
    loose by more than ~1e4: random δ = 0.1 / 0.9 and log-uniform masses, both Ñ, k0 = 0
    and 0.02 (measured: actual/estimate ≤ 0.03)."""
    import reference_numpy as ref

    n, rng = 400, np.random.default_rng(0)
    fast = jax.jit(flux_by_residues_fast)
    for kind in ("random 0.1", "random 0.9", "log-uniform"):
        m = _masses(kind, n, rng)
        for k0, n_tilde in PARAMS:
            n_t = n - 1.0 if n_tilde == "kac" else 1.0
            stiffness = (k0 + n / n_t) * np.eye(n) - np.ones((n, n)) / n_t
            try:
                oracle = ref.lyapunov_steady_state(m, stiffness, 1.0, 1.0, 0.0, 0.0)["flux"]
            except ValueError:  # a mode too weakly damped for the oracle (heavy masses)
                continue
            out = fast(mf.MeanFieldChain(m, k=1.0, k0=k0, n_tilde=n_tilde, gamma=1.0))
            j, est = float(out.value), float(out.error_estimate)
            assert bool(out.converged), (kind, k0, n_tilde)
            assert abs(j - oracle) <= est, (kind, k0, n_tilde, abs(j - oracle) / est)
            assert est <= 1e-11 * abs(j), (kind, k0, n_tilde, est / abs(j))


# ---------------------------------------------------------------------- local temperatures

_fast_t = jax.jit(jax.vmap(temperatures_by_residues_fast))
_reference_t = jax.jit(jax.vmap(temperatures_by_residues))


def _compare_temperatures(n, kinds, atol=1e-11):
    """O(N) against O(N²) T_n (issue 15: ≤ 1e-11 absolute), with honest estimates."""
    labelled = _chains(n, kinds)
    for start in range(0, len(labelled), 4):  # 4 systems per call: memory O(4·N·P) direct
        part = labelled[start:start + 4]
        batch = _stack([c for _, c in part])
        (t_f, e_f, ok_f), (t_r, e_r, ok_r) = _fast_t(batch), _reference_t(batch)
        for i, (label, _) in enumerate(part):
            assert bool(ok_r[i]) and bool(ok_f[i]), label
            diff = np.abs(np.asarray(t_f[i]) - np.asarray(t_r[i]))
            assert diff.max() <= atol, (label, diff.max())
            # the estimate covers the difference (up to the reference's own bound)
            assert np.all(diff <= np.asarray(e_f[i]) + np.asarray(e_r[i])), label
            assert float(np.max(e_f[i])) <= 1e-9, label  # and converged means it


@pytest.mark.slow  # 10 s; T_n fast path vs refined Lyapunov stays default
def test_fast_temperatures_equal_quadratic_path_n300():
    _compare_temperatures(300, KINDS)


@pytest.mark.slow  # issue 15's acceptance sizes (~6 min on 2 cores, the O(N²) side dominating)
@pytest.mark.parametrize("n", [3000, 10_000, 30_000])
def test_fast_temperatures_equal_quadratic_path(n):
    _compare_temperatures(n, KINDS + ["log-uniform", "pairs 1e-9"])


@pytest.mark.slow  # compiles a further T_n variant (~30 s)
def test_fast_temperatures_large_bound_is_reported(monkeypatch):
    """A transposed tree of degree 6 (far-field bound ~1e-3 of the sums): converged False,
    and each particle's estimate still covers its true error."""
    monkeypatch.setattr(_poles_fast, "DOUBLE_POLE_DEGREE", 6)
    m = np.random.default_rng(5).uniform(0.1, 1.9, 400)
    chain = mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde=1.0, gamma=1.0)
    temps, err, ok = jax.jit(temperatures_by_residues_fast)(chain)[:3]
    ref_t, ref_err, ref_ok = jax.jit(temperatures_by_residues)(chain)[:3]
    assert bool(ref_ok) and not bool(ok)
    diff = np.abs(np.asarray(temps) - np.asarray(ref_t))
    assert diff.max() > 1e-9  # the degraded tree is really off
    assert np.all(diff <= np.asarray(err) + np.asarray(ref_err))


def test_fast_temperatures_against_refined_lyapunov():
    """An independent method: the steady-state covariance (long-double refined Lyapunov) of a
    random chain whose bulk is heated through narrow resonances; ≤ 1e-9 at every site."""
    import reference_numpy as ref

    masses = ref.random_masses(260, delta=0.3, seed=3)
    chain = mf.MeanFieldChain(masses, k=1.0, k0=0.02, n_tilde=1.0, gamma=1.1, t_left=1.5,
                              t_right=0.5)
    kmat = ref.chain_stiffness(masses, 1.0, 0.02, 1.0)
    expected = ref.lyapunov_steady_state(masses, kmat, 1.1, 1.5, 0.5)["temperatures"]
    temps, err, ok = jax.jit(temperatures_by_residues_fast)(chain)[:3]
    assert bool(ok)
    np.testing.assert_allclose(np.asarray(temps), expected, rtol=0, atol=1e-9)
    assert np.ptp(np.asarray(temps[1:-1])) > 1e-3  # the bulk is not uniform: a real test


def test_fast_temperatures_tree_sums_against_direct_and_mpmath():
    """``_cauchy.double_pole_sums`` (the transposed tree) against the direct O(N²) sum and a
    40-digit mpmath sum at two targets: graded points in the squared variable (the hard case
    for separation), complex weights, sources near the real axis and near their gap ends."""
    import mpmath as mp

    from meanfield_jax._cauchy import direct_double_pole_sums, double_pole_sums

    rng = np.random.default_rng(0)
    n = 3000
    u = np.sort(np.sqrt(1.0 / rng.uniform(0.1, 1.9, n)))
    gaps = np.diff(u)
    o = np.arange(n)
    o[:-1] += rng.random(n - 1) < 0.5
    tau = np.zeros(n, complex)
    frac = rng.choice([1e-9, 0.5, 1.0 - 1e-9], n - 1)
    tau[:-1] = (u[:-1] + frac * gaps) - u[o[:-1]] + 1j * gaps * rng.uniform(0, 1e-3, n - 1)
    f = rng.normal(size=n) + 1j * rng.normal(size=n)
    f[-1] = 0.0
    pos = np.abs(rng.normal(size=(n, 1)))
    uj, oj, tj = jnp.asarray(u), jnp.asarray(o), jnp.asarray(tau)

    def dist(t, j):
        uo = uj[oj[j]]
        return ((uj[t] - uo) - tj[j]) * (uj[t] + uo + tj[j])

    y = (uj[oj] + tj) ** 2
    args = (uj**2, y, jnp.asarray(f), jnp.asarray(pos), dist)
    fast = jax.jit(lambda: double_pole_sums(*args, p=_poles_fast.DOUBLE_POLE_DEGREE))()
    direct = jax.jit(lambda: direct_double_pole_sums(*args))()
    mag = np.asarray(direct.magnitude)
    err = np.abs(np.asarray(fast.value) - np.asarray(direct.value))
    assert np.all(err <= np.asarray(fast.error)), np.max(err / np.asarray(fast.error))
    assert np.max(err / mag) < 1e-14
    assert np.max(np.asarray(fast.error) / mag) < 1e-12  # the bound is not vacuous
    np.testing.assert_allclose(fast.positive, direct.positive, rtol=1e-9)
    assert np.all(np.asarray(fast.positive_cubic) >= (1 - 1e-12) * np.asarray(direct.positive_cubic))
    mp.mp.dps = 40
    for t in (int(np.argmax(mag)), n - 2):
        exact = mp.fsum(mp.mpc(f[j]) / ((mp.mpf(u[t]) - mp.mpf(u[o[j]]) - mp.mpc(tau[j]))
                                        * (mp.mpf(u[t]) + mp.mpf(u[o[j]]) + mp.mpc(tau[j]))) ** 2
                        for j in range(n - 1))
        assert abs(complex(fast.value[t]) - complex(exact)) <= float(fast.error[t])
