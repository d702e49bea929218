"""Large-N gap zeros: interpolated first guesses (``_gap_zeros._interpolated_evaluator``) against the
direct iteration, and the fallback when a guess fails its check.

For N − 3 >= 256 gaps the exact iteration starts from a guess computed with the bulk sum
split into exact near poles and a Chebyshev-interpolated far field. The direct path (the
dlaed4-style iteration on the full O(N) sums from the gap midpoint) is an independent way of
locating the same zeros; both must give the same poles and residue terms to rounding level,
and the flux must still match the independent Lyapunov/quadrature oracle (N = 300 and 400
tests in test_core / test_temperatures run on this path).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf
from meanfield_jax import _gap_zeros
from meanfield_jax._pole_chain import PoleChain


def _mass_cases():
    rng = np.random.default_rng(1)
    yield "random", rng.uniform(0.9, 1.1, 400)
    yield "log-uniform 1e-2..1e2", np.exp(rng.uniform(np.log(0.01), np.log(100.0), 400))
    yield "graded 0.1..1.9", np.linspace(0.1, 1.9, 400)
    yield "alternating", np.tile([1.0, 2.0], 200)
    # two clusters: the block straddling the wide gap interpolates poorly, so some guesses
    # fail the Newton-step check and take the exact-iteration branch
    yield "two clusters", np.concatenate([rng.uniform(0.99, 1.01, 200),
                                          rng.uniform(1.99, 2.01, 200)])
    yield "repeated values", rng.choice([1.0, 1.05, 1.1, 1.2], 400)


MASS_CASES = list(_mass_cases())


@jax.jit
def _both_paths(chain):
    c = PoleChain.from_chain(chain)
    return (_gap_zeros.gap_roots(c, interpolated_guesses=True),
            _gap_zeros.gap_roots(c, interpolated_guesses=False))


@pytest.mark.parametrize("name, masses", MASS_CASES, ids=[c[0] for c in MASS_CASES])
@pytest.mark.parametrize("k0, n_tilde", [(0.0, "kac"), (0.02, 1.0)])
def test_fast_guesses_give_the_direct_zeros_and_terms(name, masses, k0, n_tilde):
    chain = mf.MeanFieldChain(masses, k=0.1, k0=k0, n_tilde=n_tilde, gamma=1.0)
    assert chain.n - 3 >= _gap_zeros.INTERPOLATED_MIN_GAPS
    fast, direct = _both_paths(chain)
    roots_f, terms_f, ok_f, valid_f, iters_f = (np.asarray(x) for x in fast[:5])
    roots_d, terms_d, ok_d, valid_d, _ = (np.asarray(x) for x in direct[:5])
    np.testing.assert_array_equal(valid_f, valid_d)
    assert ok_f.all() and ok_d.all()
    v = valid_f
    assert v.any()
    # poles: relative to their distance from the origin; widths (Im) to their own size
    np.testing.assert_allclose(roots_f[v].real, roots_d[v].real, rtol=1e-14)
    np.testing.assert_allclose(roots_f[v].imag, roots_d[v].imag, rtol=1e-9, atol=0)
    scale = np.abs(terms_d[v]).max()
    np.testing.assert_allclose(terms_f[v], terms_d[v], rtol=0, atol=1e-13 * scale)
    if name == "two clusters":
        assert iters_f.max() > 0  # the fallback branch ran and converged
    else:
        assert iters_f.max() == 0  # every guess passed with one O(N) pass


@pytest.mark.slow  # ~25 s; the fast guesses giving the direct zeros and terms stay default
def test_fast_path_flux_equals_direct_path_flux():
    masses = np.random.default_rng(7).uniform(0.9, 1.1, 600)
    chain = mf.MeanFieldChain(masses, k=0.1, k0=0.02, n_tilde=1.0, gamma=1.0)
    c = PoleChain.from_chain(chain)
    for fast in (True, False):
        roots, terms, ok, valid = _gap_zeros.gap_roots(c, interpolated_guesses=fast)[:4]
        assert bool(jnp.all(ok))
    flux = mf.heat_flux(chain)
    _, terms_d, _, valid_d = _gap_zeros.gap_roots(c, interpolated_guesses=False)[:4]
    _, terms_f, _, valid_f = _gap_zeros.gap_roots(c, interpolated_guesses=True)[:4]
    gap_sum_d = 2.0 * float(jnp.sum(jnp.where(valid_d, terms_d.real, 0.0)))
    gap_sum_f = 2.0 * float(jnp.sum(jnp.where(valid_f, terms_f.real, 0.0)))
    assert gap_sum_f == pytest.approx(gap_sum_d, rel=1e-13, abs=1e-16 * abs(float(flux)))


@pytest.mark.slow  # ~25 s; flux gradients vs finite differences stay default in test_core
def test_fast_path_gradients_match_finite_differences():
    """The implicit-function Newton step (and the first-order term correction) on the fast
    path: jax.grad w.r.t. k, k0, γ and single masses against central differences, N = 300."""
    masses = jnp.asarray(np.random.default_rng(3).uniform(0.9, 1.1, 300))

    def flux(p):
        return mf.heat_flux(mf.MeanFieldChain(p["m"], k=p["k"], k0=p["k0"], gamma=p["g"],
                                              n_tilde=1.0))

    p = {"m": masses, "k": 0.1, "k0": 0.02, "g": 1.0}
    grad = jax.jit(jax.grad(flux))(p)
    h = 1e-5  # dJ/dk0 is ~1e-3 J: smaller steps drown in the flux's rounding
    for name in ["k", "k0", "g"]:
        fd = (flux({**p, name: p[name] + h}) - flux({**p, name: p[name] - h})) / (2 * h)
        assert float(grad[name]) == pytest.approx(float(fd), rel=1e-6)
    for i in [0, 150, 299]:
        e = jnp.zeros(300).at[i].set(h)
        fd = (flux({**p, "m": p["m"] + e}) - flux({**p, "m": p["m"] - e})) / (2 * h)
        assert float(grad["m"][i]) == pytest.approx(float(fd), rel=1e-5, abs=1e-9 * abs(float(fd)))
