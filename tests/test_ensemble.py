"""Tests for meanfield_jax._ensemble: chunked, vmapped, sharded ensembles.

Most tests use method="lyapunov" (O(N³), compiles in ~1 s) at small N to test the batching
machinery quickly; one test runs the default exact residue sum (~15 s to compile on a
2-core CPU) against the closed form for identical masses and against the Lyapunov solve.
The 4-device test runs in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=4.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import meanfield_jax as mf
from meanfield_jax import analytic
from meanfield_jax import masses as ms
from meanfield_jax._ensemble import (
    batch_chains,
    default_batch_size,
    ensemble_flux,
    ensemble_transmittance,
    map_ensemble,
)
from meanfield_jax._stats import ensemble_mean

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _random_batch(r=5, n=6, k0=0.02, n_tilde="kac", seed=1):
    return batch_chains(np.asarray(ms.uniform_ensemble(seed, n, r)), k=0.1, k0=k0,
                        n_tilde=n_tilde, gamma=1.0)


def test_batch_chains_broadcasts_and_validates():
    b = batch_chains(np.ones((3, 4)), k=0.1, k0=[0.0, 0.02, 0.02], n_tilde="kac")
    assert b.masses.shape == (3, 4)
    for leaf in (b.k, b.k0, b.n_tilde, b.gamma, b.t_left, b.t_right, b.k_prime):
        assert leaf.shape == (3,)
    np.testing.assert_array_equal(b.n_tilde, [3.0] * 3)
    with pytest.raises(ValueError, match="k0"):
        batch_chains(np.ones((3, 4)), k0=[0.0, 0.1])
    with pytest.raises(ValueError, match="masses"):
        batch_chains(np.ones(4))
    with pytest.raises(ValueError, match="gamma"):
        batch_chains(np.ones((2, 4)), gamma=0.0)


def test_flux_equals_python_loop():
    """vmap + chunks + lax.map equal one heat_flux_with_error call per chain (1e-12)."""
    batch = _random_batch(r=5)
    res = ensemble_flux(batch, method="lyapunov", chunk_size=2)
    assert res.flux.shape == (5,) and res.converged.all()
    for i in range(5):
        chain = mf.MeanFieldChain(np.asarray(batch.masses[i]), k=0.1, k0=0.02, n_tilde="kac")
        one = mf.heat_flux_with_error(chain, method="lyapunov")
        np.testing.assert_allclose(res.flux[i], float(one.flux), rtol=1e-12)


def test_results_do_not_depend_on_chunking_or_vmap_width():
    batch = _random_batch(r=7)
    ref = ensemble_flux(batch, method="lyapunov", chunk_size=7, batch_size=1)
    for chunk, width in [(1, 1), (3, 2), (4, 4), (16, 8)]:
        res = ensemble_flux(batch, method="lyapunov", chunk_size=chunk, batch_size=width)
        np.testing.assert_array_equal(res.flux, ref.flux)


def test_map_ensemble_reports_chunks():
    seen = []
    map_ensemble(lambda s: s.masses.sum(), _random_batch(r=5), chunk_size=2,
                 on_chunk=lambda a, b: seen.append((a, b)))
    assert seen == [(0, 2), (2, 4), (4, 5)]


def test_residue_flux_ensemble():
    """Default exact method: identical masses = closed form; random = Lyapunov (1e-9)."""
    n = 6
    rows = np.concatenate([np.ones((1, n)), np.asarray(ms.uniform_ensemble(0, n, 3))])
    batch = batch_chains(rows, k=0.1, k0=[0.02, 0.0, 0.02, 0.02],
                         n_tilde=[n - 1.0, n - 1.0, 1.0, n - 1.0])
    res = ensemble_flux(batch, chunk_size=4)
    assert res.converged.all()
    exact = analytic.flux_identical_exact(n, 1.0, 0.1, 0.02, n - 1.0, 1.0)
    np.testing.assert_allclose(res.flux[0], float(exact), rtol=1e-10)
    lyap = ensemble_flux(batch, method="lyapunov", chunk_size=4)
    np.testing.assert_allclose(res.flux, lyap.flux, rtol=1e-9)


def test_transmittance_ensemble_equals_loop():
    batch = _random_batch(r=3, n=7)
    omega = np.linspace(0.0, 1.5, 11)
    t = ensemble_transmittance(batch, omega, chunk_size=2)
    assert t.shape == (3, 11)
    for i in range(3):
        chain = mf.MeanFieldChain(np.asarray(batch.masses[i]), k=0.1, k0=0.02)
        np.testing.assert_allclose(t[i], mf.transmittance(chain, omega), rtol=1e-13, atol=0)
    assert np.all((t >= 0) & (t <= 1 + 1e-12))


def test_ensemble_mean_ignores_nan():
    vals = np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan], [np.nan] * 3])
    stats = ensemble_mean(vals)
    np.testing.assert_allclose(stats.mean[:2], [2.0, 2.0])
    np.testing.assert_allclose(stats.stderr[:2], [1.0, 0.0])  # std(ddof=1)/sqrt(2) = 1
    assert np.isnan(stats.mean[2]) and np.isnan(stats.stderr[2])
    np.testing.assert_array_equal(stats.count, [2, 1, 0])


def test_default_batch_size_is_a_power_of_two():
    for n in (2, 64, 65, 200, 10_000):
        w = default_batch_size(n)
        assert w >= 1 and (w & (w - 1)) == 0


_FOUR_DEVICES = textwrap.dedent("""
    import numpy as np, jax
    import meanfield_jax as mf
    from meanfield_jax import masses as ms
    from meanfield_jax._ensemble import batch_chains, ensemble_flux, ensemble_transmittance
    assert len(jax.local_devices()) == 4, jax.local_devices()
    batch = batch_chains(np.asarray(ms.uniform_ensemble(2, 8, 11)), k=0.1, k0=0.02)
    one = ensemble_flux(batch, method="lyapunov", chunk_size=8, devices=1)
    four = ensemble_flux(batch, method="lyapunov", chunk_size=8, devices=4)
    np.testing.assert_array_equal(one.flux, four.flux)
    np.testing.assert_array_equal(one.converged, four.converged)
    w = np.linspace(0, 1, 5)
    np.testing.assert_array_equal(ensemble_transmittance(batch, w, devices=1),
                                  ensemble_transmittance(batch, w, devices=4))
    print("OK", four.flux.shape)
""")


def test_four_devices_identical_to_one():
    env = dict(os.environ, XLA_FLAGS=os.environ.get("XLA_FLAGS", "")
               + " --xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _FOUR_DEVICES], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK (11,)" in out.stdout
