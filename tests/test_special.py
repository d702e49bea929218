"""Complex ψ, ψ′ and their Binet remainders (``meanfield_jax._special``) against mpmath.

The contract (issue 29): 1e-14 relative for Re z > 0 and 1e-8 ≤ |z| ≤ 1e8, including
arguments close to the imaginary axis (narrow resonances), tiny |z| (ħ → 0), huge |z|
(T → 0), and the zero of ψ at x₀ = 1.4616…. References at 60 digits (φ and χ are
differences of O(ln z) terms that cancel to O(z⁻²): 30 digits would not be enough at
|z| = 1e8).
"""

import functools

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from meanfield_jax import _special as S

RTOL = 1e-14


@functools.cache
def _points():
    rng = np.random.default_rng(2029)
    n = 160
    r = 10.0 ** rng.uniform(-8, 8, n)
    theta = rng.uniform(-np.pi / 2, np.pi / 2, n)
    # a quarter within 1e-12 … 1e-1 radians of the imaginary axis
    near = np.arange(n) < n // 4
    theta[near] = np.sign(theta[near]) * (np.pi / 2 - 10.0 ** rng.uniform(-12, -1, near.sum()))
    z = r * np.exp(1j * theta)
    special = [1e-8, 1e8, 1e-8j + 1e-20, 1e8j + 1e-3, 1.4616321449683622, 1.46 + 1e-9j,
               1.2, 1.7 + 0.2j, 10.0, 9.999999 + 1e-6j, 10.0000001j + 1e-9, 0.5 - 3j]
    return np.concatenate([z, np.asarray(special, complex)])


def _reference(f):
    with mp.workdps(60):
        return np.array([complex(f(mp.mpc(x.real, x.imag))) for x in _points()])


REFERENCES = {
    "digamma": lambda x: mp.digamma(x),
    "trigamma": lambda x: mp.polygamma(1, x),
    "binet_remainder": lambda x: mp.log(x) + 1 / (2 * x) - mp.digamma(1 + x),
    "trigamma_remainder": lambda x: mp.polygamma(1, x) - 1 / x - 1 / (2 * x * x),
    "binet_factor": lambda x: 1 + 2 * x * (mp.log(x) - mp.digamma(1 + x)),
    "trigamma_factor": lambda x: 1 - 2 * x + 2 * x * x * mp.polygamma(1, 1 + x),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_against_mpmath(name):
    got = np.asarray(jax.jit(getattr(S, name))(_points()))
    want = _reference(REFERENCES[name])
    rel = np.abs(got - want) / np.abs(want)
    worst = int(np.argmax(rel))
    assert rel.max() < RTOL, (name, _points()[worst], got[worst], want[worst], rel.max())


def test_real_axis_matches_jax_digamma():
    """On the positive real axis ψ is jax.scipy.special.digamma's (real-only) function."""
    x = np.geomspace(1e-6, 1e6, 41)
    np.testing.assert_allclose(np.asarray(S.digamma(x)).real,
                               np.asarray(jax.scipy.special.digamma(x)), rtol=1e-13)
    assert np.all(np.asarray(S.digamma(x)).imag == 0)


def test_derivatives_and_vmap():
    """Holomorphic derivatives by jvp (complex tangent): ψ′ from ψ, and the increments'
    derivatives from the closed forms; vmap equals the elementwise call."""
    z = jnp.asarray([0.3 + 2.0j, 4.0 + 0.01j, 25.0 - 3.0j, 1.4616 + 0.1j])
    _, dpsi = jax.jvp(S.digamma, (z,), (jnp.ones_like(z),))
    np.testing.assert_allclose(dpsi, S.trigamma(z), rtol=1e-13)
    with mp.workdps(40):
        want = [complex(mp.diff(lambda t: 2 * t * (mp.log(t) + 1 / (2 * t) - mp.digamma(1 + t)),
                                mp.mpc(x.real, x.imag))) for x in np.asarray(z)]
    _, dg = jax.jvp(S.binet_factor, (z,), (jnp.ones_like(z),))
    np.testing.assert_allclose(dg, want, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(S.trigamma_factor)(z), S.trigamma_factor(z), rtol=0)
    g = jax.grad(lambda x: S.binet_factor(x * (1.0 + 1.0j)).real)(0.7)
    assert np.isfinite(g)


def test_factor_limits():
    """G → 1 and K → 1 as z → 0; G ~ 1/(6z), K ~ 1/(3z) as z → ∞, finite at z = ∞-ish."""
    np.testing.assert_allclose(S.binet_factor(1e-300 + 0j), 1.0, atol=1e-12)
    np.testing.assert_allclose(S.trigamma_factor(1e-300 + 0j), 1.0, atol=1e-12)
    np.testing.assert_allclose(S.binet_factor(1e200) * 6e200, 1.0, rtol=1e-14)
    np.testing.assert_allclose(S.trigamma_factor(1e200j + 1.0) * 3e200j, 1.0, rtol=1e-14)
