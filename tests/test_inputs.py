"""Strict inputs and decoupled networks (issue 10, items 2 and 3): no silent wrong answer.

A system object is ONE system (1-d masses, 0-d parameters); batches are built with
stack_systems / batch_chains and go through jax.vmap. Networks whose baths sit in separate
connected components are answered exactly (J = 0, each component at its bath's
temperature); a component touching no bath has no unique steady state and is refused.
All tests here are small (N <= 7) and fast.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf
import reference_numpy as ref
from meanfield_jax import _lyapunov, _transport
from meanfield_jax._ensemble import batch_chains

# ----------------------------------------------------------------------- single systems


def test_two_dimensional_masses_raise_naming_masses():
    with pytest.raises(ValueError, match=r"^masses must be a 1-d array.*stack_systems.*vmap"):
        mf.MeanFieldChain(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^masses must be a 1-d array"):
        mf.HarmonicNetwork(np.ones((2, 3)), np.eye(3))
    with pytest.raises(ValueError, match="masses"):
        mf.MeanFieldChain(1.0)


@pytest.mark.parametrize("name", ["k", "k0", "n_tilde", "gamma", "t_left", "t_right",
                                  "k_prime"])
def test_array_parameter_raises_naming_it(name):
    with pytest.raises(ValueError, match=rf"^{name} must be a scalar.*vmap"):
        mf.MeanFieldChain(np.ones(3), **{name: [1.0, 2.0, 3.0]})


def test_network_parameters_and_stiffness_shape_are_checked():
    with pytest.raises(ValueError, match=r"^gamma must be a scalar"):
        mf.HarmonicNetwork(np.ones(2), np.eye(2), gamma=[1.0, 1.0])
    with pytest.raises(ValueError, match="stiffness must be an N×N"):
        mf.HarmonicNetwork(np.ones(2), np.stack([np.eye(2)] * 3))


@pytest.mark.parametrize("kwargs, name", [
    (dict(masses=[1.0 + 0j, 2.0]), "masses"),
    (dict(masses=[True, True]), "masses"),
    (dict(masses=["1", "2"]), "masses"),
    (dict(masses=[1.0, 2.0], k=1j), "k"),
    (dict(masses=[1.0, 2.0], gamma=True), "gamma"),
])
def test_bool_complex_and_strings_raise_type_error(kwargs, name):
    with pytest.raises(TypeError, match=rf"^{name} must be real numbers"):
        mf.MeanFieldChain(**kwargs)


def test_other_bad_values_raise():
    with pytest.raises(ValueError, match="N >= 2"):
        mf.MeanFieldChain([1.0])
    with pytest.raises(ValueError, match="n_tilde must be 'kac'"):
        mf.MeanFieldChain([1.0, 1.0], n_tilde="N-1")
    with pytest.raises(ValueError, match="k0 must be finite"):
        mf.MeanFieldChain([1.0, 1.0], k0=np.inf)
    assert float(mf.MeanFieldChain([1, 2, 3], k=1).masses[2]) == 3.0  # ints are fine


# ----------------------------------------------------------------------------- batches


def _batch():
    chains = [mf.MeanFieldChain(ref.random_masses(5, 1.0, 0.3, seed=s), k=0.4 + 0.1 * s,
                                k0=0.1 * s, gamma=0.8, t_left=1.5, t_right=0.5)
              for s in range(3)]
    return chains, mf.stack_systems(chains)


PER_SYSTEM = {
    "transmittance": lambda s: mf.transmittance(s, 0.3),
    "greens_function": lambda s: mf.greens_function(s, 0.3),
    "heat_flux": mf.heat_flux,
    "heat_flux_with_error": mf.heat_flux_with_error,
    "local_temperatures": mf.local_temperatures,
    "local_temperatures_with_error": mf.local_temperatures_with_error,
    "normal_modes": mf.normal_modes,
    "resonance_frequency": lambda s: mf.resonance_frequency(s, 1.0),
    "find_resonances": mf.find_resonances,
    "fit_resonance_lorentzians": mf.fit_resonance_lorentzians,
}


@pytest.mark.parametrize("name", sorted(PER_SYSTEM))
def test_stacked_system_without_vmap_raises_mentioning_vmap(name):
    _, batch = _batch()
    with pytest.raises(ValueError, match=rf"^{name} takes one system.*jax\.vmap"):
        PER_SYSTEM[name](batch)


def test_stacked_system_under_jit_without_vmap_raises():
    """Shapes are static, so the check also runs on tracers: under jit alone they carry the
    batch axis (and are rejected), under vmap the per-system shape (and pass)."""
    _, batch = _batch()
    with pytest.raises(ValueError, match="vmap"):
        jax.jit(mf.heat_flux_with_error)(batch)


@pytest.mark.slow  # ~20 s; vmap = loop stays default in test_core.test_jit_equals_eager_and_vmap_equals_loop
def test_vmap_over_stack_equals_python_loop():
    """Stacked chains and networks go through vmap (and jit of vmap). The residue methods'
    vmap is covered by test_core (slow to compile); the Lyapunov route is the cheap one."""
    chains, batch = _batch()
    omegas = jnp.linspace(0.0, 2.0, 9)
    t = jax.vmap(mf.transmittance, in_axes=(0, None))(batch, omegas)
    freqs = jax.vmap(mf.normal_modes)(batch).frequencies
    nets = [c.to_network() for c in chains]
    net_batch = mf.stack_systems(nets)
    flux = jax.vmap(mf.heat_flux)(net_batch)
    temps = jax.jit(jax.vmap(mf.local_temperatures))(net_batch)
    for i, (c, net) in enumerate(zip(chains, nets)):
        np.testing.assert_allclose(t[i], mf.transmittance(c, omegas), rtol=1e-14)
        np.testing.assert_allclose(freqs[i], mf.normal_modes(c).frequencies, rtol=1e-12)
        assert float(flux[i]) == pytest.approx(float(mf.heat_flux(net)), rel=1e-12)
        np.testing.assert_allclose(temps[i], mf.local_temperatures(net), rtol=1e-12)


def test_batch_chains_equals_stacked_constructors():
    masses = np.stack([ref.random_masses(4, 1.0, 0.2, seed=s) for s in range(3)])
    b = batch_chains(masses, k=0.1, k0=[0.0, 0.02, 0.03], gamma=0.9)
    s = mf.stack_systems([mf.MeanFieldChain(m, k=0.1, k0=k0, gamma=0.9)
                          for m, k0 in zip(masses, [0.0, 0.02, 0.03])])
    for a, c in zip(jax.tree_util.tree_leaves(b), jax.tree_util.tree_leaves(s)):
        np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        batch_chains(masses, gamma=[1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="k must be real"):
        batch_chains(masses, k=[1j, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"systems\[0\] is already a batch"):
        mf.stack_systems([b, b])


# ------------------------------------------------------------------ decoupled networks


def _blocks(*blocks):
    n = sum(b.shape[0] for b in blocks)
    kmat = np.zeros((n, n))
    i = 0
    for b in blocks:
        kmat[i:i + b.shape[0], i:i + b.shape[0]] = b
        i += b.shape[0]
    return kmat


def _path(n, k, k0=0.0):
    """Nearest-neighbour chain stiffness (a connected component), pinned with k0."""
    kmat = np.diag(np.full(n, 2.0 * k + k0))
    kmat[0, 0] = kmat[-1, -1] = k + k0
    idx = np.arange(n - 1)
    kmat[idx, idx + 1] = kmat[idx + 1, idx] = -k
    return kmat


@pytest.mark.parametrize("k0", [0.0, 0.3])
@pytest.mark.parametrize("method", ["auto", "lyapunov"])
def test_disconnected_network_is_answered_exactly(k0, method):
    """Baths in separate components: J = 0 exactly and every particle at its own bath's
    temperature, checked against scipy's Lyapunov solve of the whole (reference_numpy)."""
    masses = ref.random_masses(7, 1.0, 0.4, seed=5)
    kmat = _blocks(_path(3, 0.7, k0), _path(4, 1.3, k0))[::-1, ::-1].copy()  # 1 ↔ 4 particles
    net = mf.HarmonicNetwork(masses, kmat, gamma=0.6, t_left=2.0, t_right=0.5, k_prime=0.1)
    expected = np.array([2.0] * 4 + [0.5] * 3)
    oracle = ref.lyapunov_steady_state(masses, kmat, 0.6, 2.0, 0.5, 0.1)
    np.testing.assert_allclose(oracle["temperatures"], expected, rtol=1e-10)
    assert abs(oracle["flux"]) < 1e-12

    r = mf.heat_flux_with_error(net, method)
    assert (float(r.flux), float(r.error_estimate), bool(r.converged)) == (0.0, 0.0, True)
    assert float(mf.heat_flux(net, method)) == 0.0
    t = mf.local_temperatures_with_error(net, method)
    np.testing.assert_array_equal(t.temperatures, expected)
    np.testing.assert_array_equal(t.error_estimate, np.zeros(7))
    assert bool(t.converged)
    np.testing.assert_array_equal(mf.local_temperatures(net, method), expected)
    assert r.flux.dtype == t.temperatures.dtype == jnp.float64


@pytest.mark.parametrize("fn", [mf.heat_flux, mf.heat_flux_with_error, mf.local_temperatures,
                                mf.local_temperatures_with_error])
def test_component_without_bath_raises_naming_particles(fn):
    # particles 1–3–4 connected (a triangle reaching particle N = 4); particle 2 is pinned
    # but coupled to nothing: an undamped oscillator keeping its initial energy
    kmat = np.zeros((4, 4))
    kmat[np.ix_([0, 2, 3], [0, 2, 3])] = _path(3, 1.0)
    kmat[1, 1] = 0.5
    net = mf.HarmonicNetwork(np.ones(4), kmat)
    with pytest.raises(ValueError, match=r"particle\(s\) 2 \(numbered 1..N\).*initial state"):
        fn(net)
    two = _blocks(_path(2, 1.0), _path(2, 1.0), _path(2, 1.0))  # middle pair 3, 4 bath-less
    with pytest.raises(ValueError, match=r"particle\(s\) 3, 4 "):
        fn(mf.HarmonicNetwork(ref.random_masses(6, seed=1), two))


def test_connected_and_chain_cases_are_unchanged():
    """One component → the Lyapunov solve as before; a chain with k = 0 (nothing couples)
    keeps its particular solution (bulk at rest), without the network check."""
    chain = mf.MeanFieldChain(np.ones(4), k=0.0, t_left=1.0, t_right=0.0)
    np.testing.assert_array_equal(mf.local_temperatures(chain), [1.0, 0.0, 0.0, 0.0])
    assert float(mf.heat_flux(chain, method="lyapunov")) == 0.0
    masses = ref.random_masses(4, 1.0, 0.3, seed=2)
    net = mf.HarmonicNetwork(masses, _path(4, 0.8))
    # networks default to the secular solver; the Lyapunov path agrees to its accuracy
    assert float(mf.heat_flux(net)) == pytest.approx(
        float(_lyapunov.flux_lyapunov(net).flux), rel=1e-10)


def test_nonconvergence_message_advises_lyapunov_only_when_not_used():
    bad = mf.FluxResult(jnp.asarray(1.0), jnp.asarray(1.0), jnp.asarray(False))
    with pytest.raises(RuntimeError) as info:
        _transport._raise_unless_converged(bad, "heat_flux", "lyapunov")
    assert "method='lyapunov'" not in str(info.value)
    with pytest.raises(RuntimeError, match="method='lyapunov'"):
        _transport._raise_unless_converged(bad, "heat_flux", "residues")


def test_lyapunov_flux_at_equal_temperatures_converges():
    """J = 0 up to rounding (|J| ~ 1e-16) used to fail the purely relative test."""
    net = mf.HarmonicNetwork([1.0, 1.3, 0.8], _path(3, 1.0), t_left=0.7, t_right=0.7)
    r = mf.heat_flux_with_error(net)
    assert bool(r.converged) and abs(float(r.flux)) < 1e-14


def test_ensemble_flux_checks_batches_and_decoupled_networks():
    from meanfield_jax._ensemble import ensemble_flux, ensemble_transmittance

    masses = ref.random_masses(4, 1.0, 0.3, seed=3)
    connected = mf.HarmonicNetwork(masses, _path(4, 0.9))
    decoupled = mf.HarmonicNetwork(masses, _blocks(_path(2, 0.9), _path(2, 0.9)))
    res = ensemble_flux(mf.stack_systems([connected, decoupled]), chunk_size=2)
    assert res.flux[1] == 0.0 and res.error_estimate[1] == 0.0 and res.converged.all()
    assert res.flux[0] == pytest.approx(float(mf.heat_flux(connected)), rel=1e-12)
    bathless = np.zeros((4, 4))
    bathless[np.ix_([0, 3], [0, 3])] = _path(2, 0.9)
    bad = mf.stack_systems([connected, mf.HarmonicNetwork(masses, bathless)])
    with pytest.raises(ValueError, match=r"^systems\[1\]: .*particle\(s\) 2, 3 "):
        ensemble_flux(bad)
    with pytest.raises(ValueError, match=r"batch of R systems.*per-system functions"):
        ensemble_flux(connected)
    with pytest.raises(ValueError, match="batch of R systems"):
        ensemble_transmittance(connected, jnp.linspace(0, 1, 3))


# ------------------------------------------------------------- frequencies and messages

_CHAIN = mf.MeanFieldChain([1.0, 1.3, 0.8, 1.1], k=1.0, k0=0.2)
_NETWORK = _CHAIN.to_network()

#: Every public function taking a frequency, as (name of the frequency, call with ω).
OMEGA_TAKERS = {
    "transmittance": ("omega", lambda w: mf.transmittance(_CHAIN, w)),
    "transmittance network": ("omega", lambda w: mf.transmittance(_NETWORK, w)),
    "transmittance dense": ("omega", lambda w: mf.transmittance(_NETWORK, w, method="dense")),
    "dynamical_matrix": ("omega", lambda w: mf.dynamical_matrix(_CHAIN, w)),
    "greens_function": ("omega", lambda w: mf.greens_function(_NETWORK, w)),
    "ensemble_transmittance": (
        "omega", lambda w: mf.ensemble_transmittance(mf.stack_systems([_CHAIN] * 2), w)),
    "resonance_frequency": ("omega_guess", lambda w: mf.resonance_frequency(_CHAIN, w)),
    "resonance_frequency_with_error": (
        "omega_guess", lambda w: mf.resonance_frequency_with_error(_CHAIN, w)),
    "fit_resonance_lorentzians": (
        "omega_guess", lambda w: mf.fit_resonance_lorentzians(_CHAIN, omega_guess=w)),
    "fit_lorentzian_curve": (
        "omega", lambda w: mf.fit_lorentzian_curve(np.resize(np.asarray(w), 5), np.ones(5))),
    "analytic.transmittance_identical": (
        "omega", lambda w: mf.analytic.transmittance_identical(w, 4, 1.0, 1.0, 0.2, 3.0, 1.0)),
    "analytic.greens_1n_identical": (
        "omega", lambda w: mf.analytic.greens_1n_identical(w, 4, 1.0, 1.0, 0.2, 3.0, 1.0)),
    "analytic.eigenvalues_identical": (
        "omega", lambda w: mf.analytic.eigenvalues_identical(w, 4, 1.0, 1.0, 0.2, 3.0, 1.0)),
    "analytic.lorentzian_k0_zero": (
        "omega", lambda w: mf.analytic.lorentzian_k0_zero(w, 4, 1.0, 1.0)),
    "analytic.lorentzian_pinned": (
        "omega", lambda w: mf.analytic.lorentzian_pinned(w, 4, 1.0, 1.0, 0.2, "kac", 1.0)),
}


@pytest.mark.parametrize("what", sorted(OMEGA_TAKERS))
@pytest.mark.parametrize("omega", [0.3 + 0.1j, np.complex128(0.3), np.array([0.3 + 0j, 0.5]),
                                   True, "0.3"], ids=["complex", "np.complex128",
                                                      "complex array", "bool", "string"])
def test_complex_or_non_numeric_frequency_raises_type_error_naming_it(what, omega):
    """A complex ω (even with a zero imaginary part), a bool or a string is refused with a
    TypeError naming the parameter; NumPy alone would drop the imaginary part with only a
    warning. (Under jit the dtype is checked too: see the next test.)"""
    name, call = OMEGA_TAKERS[what]
    with pytest.raises(TypeError, match=rf"^{name} must be real numbers"):
        call(omega)


def test_complex_frequency_raises_under_jit_and_real_ones_still_work():
    with pytest.raises(TypeError, match=r"^omega must be real numbers"):
        jax.jit(lambda w: mf.transmittance(_CHAIN, w))(jnp.asarray(0.3 + 0.1j))
    with pytest.raises(TypeError, match=r"^omega_guess must be real numbers"):
        jax.jit(lambda w: mf.resonance_frequency_with_error(_CHAIN, w).omega)(
            jnp.asarray(0.3 + 0j))
    with pytest.raises(ValueError, match=r"^omega_guess must be finite"):
        mf.resonance_frequency(_CHAIN, np.nan)
    # ints, float32 and float64 arrays are real frequencies
    for omega in (1, np.float32(0.5), np.arange(3), jnp.linspace(0.1, 1.0, 3)):
        t = np.asarray(mf.transmittance(_CHAIN, omega))
        assert t.dtype == np.float64 and np.all((t >= 0) & (t <= 1))


def _raises_plain(call, pattern):
    """The call raises ValueError/TypeError matching ``pattern`` and printing no NumPy
    scalar repr (np.float64(…), np.int64(…), array(…))."""
    with pytest.raises((ValueError, TypeError), match=pattern) as info:
        call()
    message = str(info.value)
    assert "np." not in message and "array(" not in message, message


@pytest.mark.parametrize("name", ["k", "k0", "gamma", "t_left", "t_right", "k_prime",
                                  "n_tilde"])
@pytest.mark.parametrize("scalar", [np.float64, np.float32, np.array, jnp.asarray])
def test_messages_print_plain_numbers(name, scalar):
    """Bad values given as NumPy/JAX scalars are printed as numbers ("got -1.0"), not as
    np.float64(-1.0); for every parameter of both system classes."""
    _raises_plain(lambda: mf.MeanFieldChain([1.0, 1.0], **{name: scalar(-1.0)}),
                  rf"^{name} must be .*, got -1\.0$")
    if name not in ("k", "k0", "n_tilde"):
        _raises_plain(lambda: mf.HarmonicNetwork([1.0, 1.0], np.eye(2), **{name: scalar(-1.0)}),
                      rf"^{name} must be .*, got -1\.0$")
    _raises_plain(lambda: mf.MeanFieldChain([1.0, 1.0], **{name: scalar(np.inf)}),
                  rf"^{name} must be finite, got inf$")


def test_other_messages_print_plain_numbers():
    from meanfield_jax import _configfile, _sweep_config, masses, networks

    _raises_plain(lambda: mf.MeanFieldChain(np.array([1.0, -2.0])), r"smallest is -2\.0\)$")
    _raises_plain(lambda: masses.from_kind("random", np.int64(1)), r"got 1$")
    _raises_plain(lambda: masses.realization_key(np.int64(-3), 5, 0), r"got -3$")
    _raises_plain(lambda: masses.alternating(5, np.float64(-1.0), 1.0), r"got -1\.0$")
    _raises_plain(lambda: networks.power_law(np.ones(4), np.float64(-0.5)), r"got -0\.5$")
    _raises_plain(lambda: mf.analytic.amplitude_A(1.0, 1.0, 0.0, "kac", np.bool_(True)),
                  r"gamma must be a number, got True;")
    _raises_plain(lambda: _configfile.number("sweep config", "n", np.float64(2.5), integer=True),
                  r"must be an integer, got 2\.5$")
    _raises_plain(lambda: _sweep_config.make_config({"sizes": [np.int64(1), 5]}),
                  r"'sizes' must all be >= 2, got \[1, 5\]$")
