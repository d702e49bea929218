"""The float64 contract (``_config``): importing the package turns float64 on; results are
float64 / complex128; with float64 turned off again every entry point raises RuntimeError
naming jax_enable_x64 (at the call, and at trace time under jit) — never a float32 result."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf


def test_import_turns_float64_on_in_a_fresh_process():
    code = ("import os; os.environ.pop('JAX_ENABLE_X64', None)\n"
            "import jax; assert not jax.config.jax_enable_x64\n"
            "import meanfield_jax as mf; assert jax.config.jax_enable_x64\n"
            "c = mf.MeanFieldChain([1.0, 1.5, 1.2], k=0.3)\n"
            "print(c.masses.dtype, mf.transmittance(c, 0.7).dtype, "
            "mf.greens_function(c, 0.7).dtype)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "JAX_ENABLE_X64"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.split() == ["float64", "float64", "complex128"]


def test_every_entry_point_raises_when_float64_is_turned_off():
    chain = mf.MeanFieldChain([1.0, 1.5, 1.2], k=0.3)  # built while float64 is on
    batch = mf.stack_systems([chain, chain])
    calls = {
        "MeanFieldChain": lambda: mf.MeanFieldChain([1.0, 2.0], k=1.0),
        "HarmonicNetwork": lambda: mf.HarmonicNetwork([1.0, 2.0], np.eye(2)),
        "networks.power_law": lambda: mf.networks.power_law(np.ones(3), 1.0),
        "masses.identical": lambda: mf.masses.identical(4),
        "analytic": lambda: mf.analytic.flux_identical_exact(4, 1.0, 1.0, 0.0, "kac", 1.0),
        "transmittance": lambda: mf.transmittance(chain, 0.5),
        "heat_flux": lambda: mf.heat_flux(chain),
        "local_temperatures": lambda: mf.local_temperatures(chain),
        "jit(heat_flux)": lambda: jax.jit(mf.heat_flux)(chain),
        "ensemble_flux": lambda: mf.ensemble_flux(batch),
        "simulate": lambda: mf.simulate(chain, jax.random.PRNGKey(0), 2, 0.1, 10, 0),
    }
    jax.config.update("jax_enable_x64", False)
    try:
        for name, call in calls.items():
            with pytest.raises(RuntimeError, match="jax_enable_x64"):
                call()
                pytest.fail(f"{name} returned under float32")
    finally:
        jax.config.update("jax_enable_x64", True)
    # and everything works again once it is back on
    assert mf.transmittance(chain, 0.5).dtype == jnp.float64


def test_scoped_float32_context_is_refused_too():
    chain = mf.MeanFieldChain([1.0, 1.5], k=0.3)
    if not hasattr(jax, "enable_x64"):
        pytest.skip("this JAX has no scoped jax.enable_x64 context")
    with jax.enable_x64(False):
        with pytest.raises(RuntimeError, match="jax_enable_x64"):
            mf.transmittance(chain, 0.5)
