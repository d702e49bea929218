"""Special functions: complex digamma ψ(z) and trigamma ψ′(z) for Re z > 0, and their Binet remainders.

``jax.scipy.special.digamma`` is real-only. The quantum heat current sums one ψ per pole
(Binet's second formula, DLMF 5.9.16; ``_quantum``), at arguments α = ħc/(2πT) anywhere in
the right half plane: near the imaginary axis (narrow resonances), tiny (ħ → 0) and huge
(T → 0). Everything here is elementwise ``jnp`` (jit, vmap, grad and jvp with complex
tangents work; derivatives are those of the formulas below, accurate to the same order).

* ψ(z): for |z| ≥ R = 10 the asymptotic series (DLMF 5.11.2)
  ψ(w) = ln w − 1/(2w) − Σ_{k=1}^{K} B_{2k}/(2k w^{2k}), K = 16; otherwise the recurrence
  ψ(z) = ψ(z + R) − Σ_{j=0}^{R−1} 1/(z + j) (Re(z + R) ≥ R). The truncation error is below
  |B_{2K+2}|/((2K+2)R^{2K+2}) · 2^{K+1} ≈ 2e-19 of |ψ| in the closed right half plane
  (the sector bound sec^{2K+2}(arg w/2) at |arg w| ≤ π/2). Near the positive zero
  x₀ = 1.4616… of ψ (|z − x₀| < 1/4) ψ is its Taylor series about x₀ (25 terms, the
  coefficients ψ^{(k)}(x₀)/k! to 17 digits, x₀ as a double-double), so ψ keeps its relative
  accuracy there too.
* ψ′(z): the same split, ψ′(w) = 1/w + 1/(2w²) + Σ B_{2k}/w^{2k+1} and
  ψ′(z) = ψ′(z + R) + Σ 1/(z + j)² (no zero of ψ′ in Re z > 0).
* Binet remainders, the quantities the heat current needs without cancellation:
  φ(z) = ln z + 1/(2z) − ψ(1 + z) = ln z − 1/(2z) − ψ(z) ~ Σ B_{2k}/(2k z^{2k}) and
  χ(z) = ψ′(z) − 1/z − 1/(2z²) ~ Σ B_{2k}/z^{2k+1}. Forming them from ψ and ψ′ would lose
  ~|z|² of their relative accuracy at large |z| (φ ~ 1/(12z²)); instead, below R, they are
  shifted by the exact, cancellation-free increments
  χ(z) − χ(z+1) = 1/(2z²(z+1)²) and φ(z) − φ(z+1) = ln(z/(z+1)) + 1/(2z) + 1/(2(z+1))
  = Σ_{k≥1} 4k/(2k+1) u^{2k+1}, u = 1/(2z+1) (the series for |u| < 1/4, 15 terms; the
  closed form, free of cancellation there, otherwise).

Accuracy (tests/test_special.py, against mpmath at 30 digits): ψ, ψ′, φ, χ within 1e-14
relative for Re z > 0 and 1e-8 ≤ |z| ≤ 1e8, including arguments 1e-12 from the imaginary
axis. Cost: O(R + K) complex operations per argument.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401  (float64)

__all__ = ["binet_factor", "binet_remainder", "digamma", "trigamma", "trigamma_factor",
           "trigamma_remainder"]

_R = 10  # recurrence shift and the threshold of the asymptotic series
_K = 16  # Bernoulli terms of the asymptotic series
#: B_2, B_4, …, B_{2K} (Bernoulli numbers).
_BERNOULLI = np.array([
    0.16666666666666666, -0.03333333333333333, 0.023809523809523808, -0.03333333333333333,
    0.07575757575757576, -0.2531135531135531, 1.1666666666666667, -7.092156862745098,
    54.971177944862156, -529.1242424242424, 6192.123188405797, -86580.25311355312,
    1425517.1666666667, -27298231.067816094, 601580873.9006424, -15116315767.092157])
#: The positive zero of ψ as a double-double.
_X0_HI = 1.4616321449683622
_X0_LO = 9.549995429965697e-17
#: ψ^{(k)}(x₀)/k!, k = 1…25.
_ROOT_TAYLOR = np.array([
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928, -0.0015769367714301972,
    0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602,
    -0.0003454680251063077, 0.00023635601564027053, -0.00016170622091974803,
    0.0001106337276874741, -7.569179582195066e-05, 5.178575795222081e-05])
_ROOT_RADIUS = 0.25
_U_SERIES = 15  # terms of the φ increment's series in u
_U_MAX = 0.25


def _complex(z):
    return jnp.asarray(z).astype(jnp.complex128)


def _shift_sum(term, z):
    """Σ_{j=0}^{R−1} term(z + j) for a cheap ``term`` (unrolled: one fused loop)."""
    return sum(term(z + float(j)) for j in range(_R))


def _horner(coefficients, x):
    """Σ_k coefficients[k] x^k."""
    acc = jnp.zeros_like(x)
    for c in coefficients[::-1]:
        acc = acc * x + c
    return acc


def _split(z):
    """(large, z for the asymptotic branch, z for the recurrence branch): both finite."""
    large = jnp.abs(z) >= _R
    return large, jnp.where(large, z, _R + 0j), jnp.where(large, 1.0 + 0j, z)


def _phi_asymptotic(w):
    """Σ_{k=1}^{K} B_{2k}/(2k w^{2k}) for |w| ≥ R."""
    x = 1.0 / (w * w)
    return x * _horner(_BERNOULLI / (2.0 * np.arange(1, _K + 1)), x)


def _chi_asymptotic(w):
    """Σ_{k=1}^{K} B_{2k}/w^{2k+1} for |w| ≥ R."""
    x = 1.0 / (w * w)
    return x / w * _horner(_BERNOULLI, x)


def digamma(z):
    """ψ(z) for complex z with Re z > 0 (elementwise; complex128).

    Asymptotic series above |z| = 10, upward recurrence below, Taylor series about the
    zero x₀ (module docstring). Accuracy 1e-14 relative for 1e-8 ≤ |z| ≤ 1e8.
    Re z ≤ 0 is outside the contract (not checked: callers guarantee it).

    >>> round(complex(digamma(1.0)).real, 13)  # −γ_E
    -0.5772156649015
    """
    z = _complex(z)
    large, zl, zs = _split(z)
    w = zs + _R
    shift = _shift_sum(lambda x: 1.0 / x, zs)
    recurrence = jnp.log(w) - 0.5 / w - _phi_asymptotic(w) - shift
    asymptotic = jnp.log(zl) - 0.5 / zl - _phi_asymptotic(zl)
    near_root = jnp.abs(z - _X0_HI) < _ROOT_RADIUS
    d = jnp.where(near_root, z - _X0_HI, 0.0)  # exact (Sterbenz); x₀'s low part below
    taylor = d * _horner(_ROOT_TAYLOR, d) - _X0_LO * (_ROOT_TAYLOR[0] + 2.0 * _ROOT_TAYLOR[1] * d)
    return jnp.where(near_root, taylor, jnp.where(large, asymptotic, recurrence))


def trigamma(z):
    """ψ′(z) for complex z with Re z > 0 (elementwise; complex128).

    Asymptotic series above |z| = 10, upward recurrence below (module docstring).
    Accuracy 1e-14 relative for 1e-8 ≤ |z| ≤ 1e8.

    >>> round(complex(trigamma(1.0)).real, 13)  # π²/6
    1.6449340668482
    """
    z = _complex(z)
    large, zl, zs = _split(z)
    w = zs + _R
    shift = _shift_sum(lambda x: 1.0 / (x * x), zs)
    recurrence = 1.0 / w + 0.5 / (w * w) + _chi_asymptotic(w) + shift
    asymptotic = 1.0 / zl + 0.5 / (zl * zl) + _chi_asymptotic(zl)
    return jnp.where(large, asymptotic, recurrence)


def _phi_series(x, terms=_U_SERIES):
    """φ(x) − φ(x + 1) = Σ_{k≥1} 4k/(2k+1) u^{2k+1}, u = 1/(2x+1), for |u| < 1/4."""
    u = 1.0 / (2.0 * x + 1.0)
    u2 = u * u
    k = np.arange(1, terms + 1)
    return u * u2 * _horner(4.0 * k / (2.0 * k + 1.0), u2)


def _phi_increment(x):
    """φ(x) − φ(x + 1) = ln(x/(x+1)) + 1/(2x) + 1/(2(x+1)), without cancellation: the
    series where |u| < 1/4, the closed form (no cancellation there) elsewhere."""
    small = jnp.abs(2.0 * x + 1.0) > 1.0 / _U_MAX
    series = _phi_series(jnp.where(small, x, 4.0 + 0j))
    xd = jnp.where(small, 1.0 + 0j, x)
    direct = jnp.log(xd / (xd + 1.0)) + 0.5 / xd + 0.5 / (xd + 1.0)
    return jnp.where(small, series, direct)


#: Terms of the increment series from x + 2 on (Re x > 0: |u| ≤ 1/5, (1/25)^12 < 1e-16).
_U_SERIES_SHIFTED = 13


def binet_remainder(z):
    """φ(z) = ln z + 1/(2z) − ψ(1 + z) = ln z − 1/(2z) − ψ(z) for Re z > 0 (complex128).

    The remainder of Stirling's series for ψ (φ ~ 1/(12z²) at large z, φ ~ 1/(2z) at small
    z), computed without cancellation (module docstring). Binet's second formula
    (DLMF 5.9.16): φ(z) = 2∫_0^∞ t dt/((t² + z²)(e^{2πt} − 1)).
    Accuracy 1e-14 relative for 1e-8 ≤ |z| ≤ 1e8.

    >>> round(float(binet_remainder(1e3).real * 12e6), 9)  # 1/(12 z²) − 1/(120 z⁴) + …
    0.9999999
    """
    z = _complex(z)
    large, zl, zs = _split(z)
    # the first two increments may need the closed form; from z + 2 on the series converges
    # fast for every Re z > 0 (no logarithms in the loop)
    tail = jax.lax.fori_loop(
        2, _R, lambda j, acc: acc + _phi_series(zs + j.astype(zs.real.dtype), _U_SERIES_SHIFTED),
        jnp.zeros_like(zs))
    shift = _phi_increment(zs) + _phi_increment(zs + 1.0) + tail
    return jnp.where(large, _phi_asymptotic(zl), shift + _phi_asymptotic(zs + _R))


def trigamma_remainder(z):
    """χ(z) = ψ′(z) − 1/z − 1/(2z²) for Re z > 0 (complex128).

    χ ~ 1/(6z³) at large z and 1/(2z²) at small z, computed without cancellation: below
    |z| = 10 by the exact increments χ(z) − χ(z+1) = 1/(2z²(z+1)²) (module docstring).
    Accuracy 1e-14 relative for 1e-8 ≤ |z| ≤ 1e8.

    >>> round(float(trigamma_remainder(1e3).real * 6e9), 9)  # 1/(6 z³) − 1/(30 z⁵) + …
    0.9999998
    """
    z = _complex(z)
    large, zl, zs = _split(z)
    shift = _shift_sum(lambda x: 0.5 / (x * (x + 1.0)) ** 2, zs)
    return jnp.where(large, _chi_asymptotic(zl), shift + _chi_asymptotic(zs + _R))


def binet_factor(z):
    """G(z) = 2z φ(z) = 1 + 2z(ln z − ψ(1 + z)) for Re z > 0 (complex128).

    The ratio of a Lorentzian pole's quantum to classical thermal weight
    (``_quantum``): G → 1 as z → 0 (G = 1 + 2z ln z + O(z)), G ~ 1/(6z) as z → ∞ (formed
    as (2/z)·Σ B_{2k}/(2k z^{2k−2}), finite up to |z| = ∞). Same accuracy as φ.

    >>> round(float(binet_factor(1e-12).real), 9)
    1.0
    """
    z = _complex(z)
    large, zl, zs = _split(z)
    x = 1.0 / (zl * zl)
    asymptotic = 2.0 / zl * _horner(_BERNOULLI / (2.0 * np.arange(1, _K + 1)), x)
    # 2z φ(z) = 2z (φ(z) − φ(z+1)) + 2z φ(z+1), the first term in closed form where its
    # series is not used (finite as z → 0)
    u_raw = 1.0 / (2.0 * zs + 1.0)
    closed = jnp.abs(u_raw) >= _U_MAX
    zc = jnp.where(closed, zs, 1.0 + 0j)
    first = jnp.where(closed, 2.0 * zc * (jnp.log(zc) - jnp.log(zc + 1.0)) + 1.0 + zc / (zc + 1.0),
                      2.0 * zs * _phi_increment(jnp.where(closed, 1.0 + 0j, zs)))
    return jnp.where(large, asymptotic, first + 2.0 * zs * binet_remainder(zs + 1.0))


def trigamma_factor(z):
    """K(z) = 2z² χ(z) = 1 − 2z + 2z² ψ′(1 + z) for Re z > 0 (complex128).

    K = d(T G(α))/dT at α ∝ 1/T: the conductance weight of a Lorentzian pole relative to
    its classical one (``_quantum``); K → 1 as z → 0, K ~ 1/(3z) as z → ∞ (formed as
    (2/z)·Σ B_{2k}/z^{2k−2}). Same accuracy as χ.

    >>> round(float(trigamma_factor(1e-12).real), 9)
    1.0
    """
    z = _complex(z)
    large, zl, zs = _split(z)
    x = 1.0 / (zl * zl)
    asymptotic = 2.0 / zl * _horner(_BERNOULLI, x)
    # 2z²χ(z) = 1/(1+z)² + 2z²χ(z+1) (the first increment in closed form: finite as z → 0)
    small = 1.0 / ((1.0 + zs) * (1.0 + zs)) + 2.0 * zs * zs * trigamma_remainder(zs + 1.0)
    return jnp.where(large, asymptotic, small)
