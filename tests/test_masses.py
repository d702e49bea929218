"""Tests for meanfield_jax.masses: the mass configurations of Fig. 4 (PRE 105, 054149)."""

from __future__ import annotations

import doctest

import jax
import numpy as np
import pytest

import meanfield_jax  # noqa: F401  (x64)
from meanfield_jax import masses


def test_doctests():
    result = doctest.testmod(masses, verbose=False)
    assert result.failed == 0 and result.attempted > 0


def test_identical():
    x = masses.identical(5, 1.5)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, np.full(5, 1.5))


@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_graded_follows_the_paper(n):
    # m_n = m − δ + 2δ(n − 1)/(N − 1), n = 1..N (Sec. III B): exact to rounding
    m, delta = 1.0, 0.1
    x = np.asarray(masses.graded(n, m, delta))
    expected = np.array([m - delta + 2 * delta * (i - 1) / (n - 1) for i in range(1, n + 1)])
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-15)
    assert x[0] == pytest.approx(m - delta) and x[-1] == pytest.approx(m + delta)
    assert np.mean(x) == pytest.approx(m, abs=1e-15)


def test_uniform_range_and_moments():
    x = np.asarray(masses.uniform(jax.random.key(3), 20000, 2.0, 0.5))
    assert x.dtype == np.float64
    assert x.min() >= 1.5 and x.max() <= 2.5
    # mean 2, variance δ²/3, each to 5 standard errors: the mean's is δ/√(3n); the sample
    # variance's is √((μ₄ − σ⁴)/n) with μ₄ = δ⁴/5 and σ⁴ = δ⁴/9 for a uniform law (5.3e-4
    # here; the old bound 0.01 allowed 19 of them)
    delta = 0.5
    assert abs(x.mean() - 2.0) < 5 * delta / np.sqrt(3 * x.size)
    assert abs(x.var() - delta**2 / 3) < 5 * delta**2 * np.sqrt((1 / 5 - 1 / 9) / x.size)


def test_realizations_reproducible_alone():
    """Row r depends only on (seed, N, r): not on R, nor on which rows are drawn."""
    full = np.asarray(masses.uniform_ensemble(11, 12, 8))
    assert full.shape == (8, 12)
    for r in (0, 5, 7):
        alone = np.asarray(masses.uniform(masses.realization_key(11, 12, r), 12))
        np.testing.assert_array_equal(full[r], alone)
        np.testing.assert_array_equal(full[r], masses.from_kind("random", 12, seed=11,
                                                                realization=r))
    np.testing.assert_array_equal(masses.uniform_ensemble(11, 12, 3), full[:3])
    np.testing.assert_array_equal(masses.uniform_ensemble(11, 12, [6, 2]), full[[6, 2]])
    # distinct realizations, seeds and sizes give distinct masses
    assert len({tuple(row) for row in full}) == 8
    assert not np.array_equal(masses.uniform_ensemble(12, 12, 1)[0], full[0])
    assert not np.array_equal(masses.uniform_ensemble(11, 13, 1)[0, :12], full[0])


def test_alternating_and_from_kind():
    np.testing.assert_array_equal(masses.alternating(4, 1.0, 3.0), [1.0, 3.0, 1.0, 3.0])
    np.testing.assert_array_equal(masses.from_kind("alternating", 4, m=1.0, delta=0.1),
                                  [0.9, 1.1, 0.9, 1.1])
    np.testing.assert_array_equal(masses.from_kind("identical", 3, m=2.0), [2.0] * 3)
    np.testing.assert_allclose(masses.from_kind("graded", 3), [0.9, 1.0, 1.1], atol=1e-15)


@pytest.mark.parametrize("call, word", [
    (lambda: masses.identical(1), "n"),
    (lambda: masses.identical(3.5), "n"),
    (lambda: masses.graded(5, 1.0, 1.0), "delta"),
    (lambda: masses.graded(5, -1.0, 0.1), "m"),
    (lambda: masses.uniform(jax.random.key(0), 5, 1.0, -0.1), "delta"),
    (lambda: masses.alternating(4, 1.0, 0.0), "m2"),
    (lambda: masses.realization_key(-1, 5, 0), "seed"),
    (lambda: masses.from_kind("heavy", 5), "kind"),
])
def test_validation_names_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()
