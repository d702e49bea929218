"""Every program compiles through ``_config.jit``: jax.jit plus the package's XLA options
(``_config.COMPILER_OPTIONS``), with a fallback for an XLA that does not know them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield_jax import _config


def test_options_are_accepted_by_this_jaxlib():
    """The compile-time saving is in effect here (if a jaxlib retires the option, this fails
    and the options need re-measuring; the package itself still works, see below)."""
    assert _config._accepted_compiler_options() == _config.COMPILER_OPTIONS


def test_program_behaves_as_jax_jit():
    def cube_sum(x, power):
        """Sum of x**power."""
        return jnp.sum(x**power)

    program = _config.jit(cube_sum, static_argnums=1)
    x = jnp.arange(4.0)
    assert float(program(x, 3)) == float(jax.jit(cube_sum, static_argnums=1)(x, 3)) == 36.0
    assert program.__name__ == "cube_sum" and program.__doc__ == "Sum of x**power."
    assert program._cache_size() == 1
    program(x + 1.0, 3)  # new values, same shape: no new compilation
    assert program._cache_size() == 1
    assert float(program.lower(x, 3).compile()(x)) == 36.0
    np.testing.assert_allclose(jax.vmap(lambda v: program(v, 2))(jnp.eye(3)), np.ones(3))
    assert float(jax.grad(lambda v: program(v, 2))(x)[3]) == 6.0
    decorated = _config.jit(static_argnums=1)(cube_sum)
    assert float(decorated(x, 1)) == 6.0


def test_unknown_option_falls_back_to_plain_jit(monkeypatch):
    _config._accepted_compiler_options.cache_clear()
    monkeypatch.setattr(_config, "COMPILER_OPTIONS", {"xla_no_such_option_anywhere": True})
    try:
        assert _config._accepted_compiler_options() is None
        assert float(_config.jit(lambda x: 2.0 * x)(jnp.float64(1.5))) == 3.0
    finally:
        _config._accepted_compiler_options.cache_clear()


@pytest.mark.parametrize("name", ["flux_residues", "_temperatures_residues"])
def test_solver_programs_are_config_programs(name):
    from meanfield_jax import _transport

    assert isinstance(getattr(_transport, name), _config._Program)


def test_top_level_vmap_and_jvp_keep_the_options_nested_calls_run_the_plain_program():
    """A top-level vmap or jvp runs the program with options; inside an outer jit (traced
    or closed-over arguments), grad and lax.map it is the plain jax.jit (XLA takes compiler
    options only at the top level)."""
    x = jnp.linspace(0.0, 1.0, 5)
    expected = np.sin(np.asarray(x)) * 2.0

    def fresh():
        return _config.jit(lambda v: jnp.sin(v) * 2.0)

    top = [("call", lambda p: p(x)), ("vmap", lambda p: jax.vmap(p)(x)),
           ("jvp", lambda p: jax.jvp(p, (x,), (jnp.ones_like(x),))[0])]
    nested = [("jit", lambda p: jax.jit(p)(x)), ("jit closure", lambda p: jax.jit(lambda: p(x))()),
              ("lax.map", lambda p: jax.lax.map(p, x))]
    for name, run in top + nested:
        program = fresh()
        np.testing.assert_allclose(run(program), expected, rtol=1e-15, err_msg=name)
        assert (program._nested is None) == ((name, run) in top), name
    program = fresh()
    np.testing.assert_allclose(jax.grad(lambda v: jnp.sum(program(v)))(x), 2.0 * np.cos(x),
                               rtol=1e-15)
    assert program._nested is not None


def test_heat_flux_under_an_outer_jit_with_a_closed_over_chain():
    import meanfield_jax as mf

    chain = mf.MeanFieldChain([1.0, 1.3, 0.8, 1.1, 0.9], k=1.0, k0=0.1)
    direct = float(mf.heat_flux(chain))
    assert float(jax.jit(lambda: mf.heat_flux(chain))()) == pytest.approx(
        direct, rel=1e-14)


@pytest.mark.parametrize("n, batch", [(10, 4), (12, 4), (7, 1), (3, 8)])
def test_map_in_batches_equals_lax_map_and_traces_f_once(n, batch):
    """Equal batches: the values of lax.map, f traced once (lax.map traces a second copy for
    a remainder that does not fill a batch: 10 = 2·4 + 2)."""
    traces = []

    def f(args):
        traces.append(1)
        x, y = args
        return jnp.sin(x) * y, x + y

    xs = (jnp.linspace(0.0, 1.0, n), jnp.arange(n, dtype=jnp.float64))
    out = _config.map_in_batches(f, xs, batch)
    ref = jax.lax.map(f, xs)
    assert len(traces) == 2  # map_in_batches once, the plain lax.map once
    for a, b in zip(out, ref):
        assert a.shape == (n,)
        np.testing.assert_array_equal(a, b)
    traces.clear()
    jax.lax.map(f, xs, batch_size=4)
    assert len(traces) == (2 if n % 4 and n > 4 else 1)  # why the helper exists


def test_jit_without_compiler_options_is_plain_jit():
    """``_config.jit(..., compiler_options=False)`` (the network solvers: dense linear algebra
    runs faster with XLA's defaults) is ``jax.jit``, decorator form included."""

    def f(x, k):
        return jnp.sin(x) * k

    for program in (_config.jit(f, compiler_options=False, static_argnums=1),
                    _config.jit(compiler_options=False, static_argnums=1)(f)):
        assert not isinstance(program, _config._Program)
        assert float(program(0.5, 3)) == float(jax.jit(f, static_argnums=1)(0.5, 3))
        # the same program as plain jit: no compiler options in its lowering, and its
        # ahead-of-time compiled form runs and agrees
        plain = jax.jit(f, static_argnums=1)
        assert program.lower(0.5, 3).as_text() == plain.lower(0.5, 3).as_text()
        assert float(program.lower(0.5, 3).compile()(0.5)) == float(plain(0.5, 3))
    from meanfield_jax import _transport

    for name in ("flux_secular", "temperatures_secular"):
        assert not isinstance(getattr(_transport, name), _config._Program), name
