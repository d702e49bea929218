"""The one failure convention (package docstring): a plain form with ``throw=``, a
``*_with_error`` form with the status, and NotConvergedError also under jit and vmap.

Non-converged cases, each deterministic:

* ``resonance_frequency`` started exactly on a bulk frequency (T = 0, u = 1/T infinite);
* ``local_temperatures`` of a chain whose two unequal bulk masses are one ulp apart (their
  difference mode is decoupled to rounding: T_n is flagged as not resolved);
* ``heat_flux`` of a draw from the parameter box of tests/test_extremes.py: identical masses
  with γ = 1.5e-6 (resonances of width ~γ/m against frequencies ~1; the error bound is
  ~2e-7 relative, far above the 1e-9 the solver requires).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf
from meanfield_jax import NotConvergedError

RUNTIME = (NotConvergedError, jax.errors.JaxRuntimeError)

# One wrapper object each, reused by every test: the compiled programs are shared (chains
# of N <= 16 all run in the size bucket 16, and every batch here has two systems).
JIT_FLUX = jax.jit(mf.heat_flux)
JIT_PEAK = jax.jit(mf.resonance_frequency)
VMAP_FLUX = jax.vmap(mf.heat_flux)
VMAP_FLUX_STATUS = jax.vmap(mf.heat_flux_with_error)
VMAP_TEMPS = jax.vmap(mf.local_temperatures)
VMAP_TEMPS_STATUS = jax.vmap(mf.local_temperatures_with_error)
VMAP_PEAK = jax.vmap(mf.resonance_frequency)
VMAP_PEAK_STATUS = jax.vmap(mf.resonance_frequency_with_error)


def _raises_naming(fn, what):
    """``fn()`` raises NotConvergedError (eager) or a JAX runtime error carrying it."""
    with pytest.raises(RUNTIME) as info:
        jax.block_until_ready(fn())
    message = str(info.value)
    assert "NotConvergedError" in message or isinstance(info.value, NotConvergedError)
    assert what in message
    assert "did not converge" in message


# ------------------------------------------------------------------------- non-converged

_RES_CHAIN = mf.MeanFieldChain(np.ones(10), k=1.0, k0=1.0)
_BULK = float(np.sqrt(_RES_CHAIN.kappa_bar + _RES_CHAIN.k0))  # a zero of T


def test_not_converged_error_is_a_runtime_error():
    assert issubclass(NotConvergedError, RuntimeError)
    assert mf.NotConvergedError is NotConvergedError


def test_resonance_not_converged_raises_everywhere():
    r = mf.resonance_frequency_with_error(_RES_CHAIN, _BULK)
    assert not bool(r.converged)
    _raises_naming(lambda: mf.resonance_frequency(_RES_CHAIN, _BULK), "resonance_frequency")
    _raises_naming(lambda: JIT_PEAK(_RES_CHAIN, _BULK), "resonance_frequency")
    batch = mf.stack_systems([_RES_CHAIN, _RES_CHAIN])
    guesses = jnp.array([1.0, _BULK])  # one lane converges, one fails
    _raises_naming(lambda: VMAP_PEAK(batch, guesses), "resonance_frequency")
    # throw=False: the values, unchecked; the _with_error form: the status
    wc, height = mf.resonance_frequency(_RES_CHAIN, _BULK, throw=False)  # NaN here
    np.testing.assert_array_equal([wc, height], [r.omega, r.height])
    status = VMAP_PEAK_STATUS(batch, guesses)
    assert status.converged.tolist() == [True, False]
    assert float(status.error_estimate[0]) < 1e-12
    # converged lanes only: no error under vmap
    wc, _ = VMAP_PEAK(batch, jnp.array([1.0, 0.9]))
    np.testing.assert_array_equal(wc, VMAP_PEAK_STATUS(batch, jnp.array([1.0, 0.9])).omega)


def _merged_chain():
    m = 1.0050251256281406  # sqrt(1.3/m) == sqrt(1.3/m⁺) for the next float m⁺ (κ_b = 1.3)
    masses = [1.0, m, float(np.nextafter(m, 2.0)), 1.2, 1.1, 1.0]
    return mf.MeanFieldChain(masses, k=1.0, k0=0.1)


def test_temperatures_not_converged_raises_everywhere():
    chain = _merged_chain()
    r = mf.local_temperatures_with_error(chain)
    assert not bool(r.converged)
    _raises_naming(lambda: mf.local_temperatures(chain), "local_temperatures")
    good = mf.MeanFieldChain(np.linspace(1.0, 1.5, 6), k=1.0, k0=0.1)
    batch = mf.stack_systems([good, chain])
    _raises_naming(lambda: VMAP_TEMPS(batch), "local_temperatures")
    np.testing.assert_array_equal(mf.local_temperatures(chain, throw=False), r.temperatures)
    assert VMAP_TEMPS_STATUS(batch).converged.tolist() == [True, False]
    # converged lanes only: no error under vmap (jit: as vmap, both trace the check)
    both_good = mf.stack_systems([good, good])
    np.testing.assert_array_equal(VMAP_TEMPS(both_good),
                                  VMAP_TEMPS_STATUS(both_good).temperatures)


_BAD_FLUX_CHAIN = dict(masses=np.full(5, 16.5), k=24.2, k0=0.0, gamma=1.5e-6)
_GOOD_FLUX_CHAINS = [mf.MeanFieldChain(m, k=1.0, k0=0.2, gamma=0.5)
                     for m in (np.linspace(1.0, 1.4, 5), np.linspace(1.3, 0.8, 5))]


def test_flux_not_converged_raises_everywhere():
    chain = mf.MeanFieldChain(**_BAD_FLUX_CHAIN)
    r = mf.heat_flux_with_error(chain)
    assert not bool(r.converged) and float(r.error_estimate) > 1e-8 * abs(float(r.flux))
    _raises_naming(lambda: mf.heat_flux(chain), "heat_flux")
    _raises_naming(lambda: JIT_FLUX(chain), "heat_flux")
    batch = mf.stack_systems([_GOOD_FLUX_CHAINS[0], chain])
    _raises_naming(lambda: VMAP_FLUX(batch), "heat_flux")
    assert float(mf.heat_flux(chain, throw=False)) == float(r.flux)
    assert VMAP_FLUX_STATUS(batch).converged.tolist() == [True, False]
    # ensembles: converged per system, and throw=True raises after the run
    res = mf.ensemble_flux(batch, chunk_size=2)
    assert res.converged.tolist() == [True, False]
    with pytest.raises(NotConvergedError, match="ensemble_flux"):
        mf.ensemble_flux(batch, chunk_size=2, throw=True)


# ----------------------------------------------------------------------------- converged


def test_converged_never_raises_under_jit_vmap_grad():
    chain = _GOOD_FLUX_CHAINS[0]
    batch = mf.stack_systems(_GOOD_FLUX_CHAINS)
    eager = mf.heat_flux(chain)
    # (inside the user's jit the solver compiles with the user's XLA options, not
    # _config.COMPILER_OPTIONS: equal to rounding, not bit for bit)
    assert float(JIT_FLUX(chain)) == pytest.approx(float(eager), rel=1e-14)
    assert float(mf.heat_flux(chain, throw=False)) == float(eager)
    np.testing.assert_array_equal(VMAP_FLUX(batch), VMAP_FLUX_STATUS(batch).flux)
    # gradients pass through the check untouched
    grad = jax.grad(mf.heat_flux)(chain)
    grad_unchecked = jax.grad(lambda c: mf.heat_flux(c, throw=False))(chain)
    for a, b in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(grad_unchecked)):
        np.testing.assert_array_equal(a, b)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grad))


def test_deprecated_aliases_warn_and_point_to_the_new_names():
    pairs = {"fit_lorentzian": mf.fit_lorentzian_curve,
             "fit_lorentzians": mf.fit_resonance_lorentzians,
             "LorentzianFit": mf.LorentzianCurveFit,
             "LorentzianFits": mf.ResonanceLorentzianFit,
             "resonance_frequency_with_status": mf.resonance_frequency_with_error}
    for old, new in pairs.items():
        with pytest.warns(DeprecationWarning, match=old):
            assert getattr(mf, old) is new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mf.resonance_frequency_with_error  # noqa: B018  (the new names do not warn)
