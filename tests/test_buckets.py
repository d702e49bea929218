"""Size buckets (``_buckets``): padded chains give the unpadded results, one compilation
per bucket.

Padding is inert by construction (weight-0 bulk entries, true N traced), so the padded and
unpadded programs differ only in the order of floating-point sums: J to 1e-14 relative,
T_n to 1e-13 absolute (T ~ 1), T(ω) to 1e-14 relative, gradients to 1e-12 relative.
"""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield_jax as mf
from compile_log import compile_log
from meanfield_jax import _buckets, _transport
from meanfield_jax._buckets import bucket_size, pad_chain, trim_particles
from meanfield_jax._poles import flux_from_poles, chain_poles, temperatures_by_residues


@jax.jit
def _flux_and_temperatures(chain, n=None):
    poles = chain_poles(chain, n)
    flux = flux_from_poles(chain, poles, n)
    temps, err, ok = temperatures_by_residues(chain, poles, n)[:3]
    return (flux.value, flux.error_estimate, flux.converged, flux.diagnostics.sum_rule_error,
            temps, err, ok)


def _masses(kind, n, rng):
    if kind == "random":
        return 1.0 + 0.5 * rng.random(n)
    if kind == "graded":
        return np.linspace(1.0, 3.0, n)
    return np.full(n, 1.3)  # identical: one bulk pole of weight N − 2, no gaps


def test_ladder(monkeypatch):
    for ladder in (_buckets.LADDER, _buckets._geometric_ladder(4)):
        sizes = [bucket_size(n, ladder) for n in range(2, 40000)]
        assert all(b >= n for n, b in zip(range(2, 40000), sizes))
        assert all(a <= b for a, b in zip(sizes, sizes[1:]))
        # no bucket straddles the switch to the fast gap path (N − 3 >= 256)
        assert all((b >= 259) == (n >= 259) for n, b in zip(range(2, 40000), sizes))
    # default: four-fold up to 4096, then at most 2x the O(N²) work
    assert max(bucket_size(n) / n for n in range(4097, 40000)) < 1.42
    assert len({bucket_size(int(n)) for n in np.geomspace(10, 5000, 20)}) == 6
    fine = _buckets._geometric_ladder(4)
    assert max(bucket_size(n, fine) ** 2 / n**2 for n in range(17, 40000)) < 1.42
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "4")
    assert _buckets.active_ladder() == fine
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "off")
    assert _buckets.active_ladder() is None and not _buckets.buckets_enabled()
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "maybe")
    with pytest.raises(ValueError, match="MEANFIELD_JAX_BUCKETS"):
        _buckets.active_ladder()


# N = 17 and 64: bottom and top of the bucket 17…64; N = 3 (one bulk particle) padded to 64
CASES = [(kind, k0, n_tilde, k_prime)
         for kind in ("random", "graded", "identical")
         for k0, n_tilde, k_prime in ((0.0, "kac", 0.0), (0.3, 1.0, 0.0), (0.2, "kac", 0.5))]


# the bottom of the first bucket and of the bucket 64, padded to 64 (the top of a bucket
# is no padding at all)
@pytest.mark.parametrize("n", [pytest.param(3, marks=pytest.mark.slow), 17])  # 3: 6 s
def test_padded_equals_unpadded(n):
    assert bucket_size(17) == bucket_size(64) == 64
    rng = np.random.default_rng(n)
    for kind, k0, n_tilde, k_prime in CASES:
        chain = mf.MeanFieldChain(_masses(kind, n, rng), k=1.3, k0=k0, n_tilde=n_tilde,
                                  gamma=0.7, t_left=1.5, t_right=0.5, k_prime=k_prime)
        ref = _flux_and_temperatures(chain)
        padded, n_true = pad_chain(chain, 64)
        out = _flux_and_temperatures(padded, n_true)
        what = (n, kind, k0, n_tilde, k_prime)
        assert abs(out[0] - ref[0]) <= 1e-14 * abs(ref[0]), what
        # error estimates and flags: padding must not change them (the estimates are
        # rounding bounds built from rounding-level quantities: equal to 10%)
        assert abs(out[1] - ref[1]) <= 0.1 * ref[1] + 1e-16 * abs(ref[0]), what
        assert bool(out[2]) == bool(ref[2]) and bool(ref[2]), what
        assert abs(out[3] - ref[3]) <= 1e-15, what
        temps, err = trim_particles(out[4], n), trim_particles(out[5], n)
        np.testing.assert_allclose(temps, ref[4], rtol=0, atol=1e-13, err_msg=str(what))
        np.testing.assert_allclose(err, ref[5], rtol=0.1, atol=1e-16, err_msg=str(what))
        assert bool(out[6]) == bool(ref[6]), what
        assert np.all(out[4][n - 1:-1] == 0) and np.all(out[5][n - 1:-1] == 0)


def _q_condition(chain, omega):
    """Condition number of the sum Q(ω) (module _green): Σ|summands|/|Q|, NumPy."""
    m = np.asarray(chain.masses)
    kb = float(chain.kappa_bar + chain.k0)
    ke = kb + float(chain.k_prime)
    g, sigma = float(chain.gamma), float(chain.k0 + chain.k_prime)
    bulk = (float(chain.k0) / omega - m[1:-1, None] * omega) / (kb - m[1:-1, None] * omega**2)
    a1, an = ke - m[0] * omega**2 + 1j * g * omega, ke - m[-1] * omega**2 + 1j * g * omega
    e1, en = sigma / omega + 1j * g - m[0] * omega, sigma / omega + 1j * g - m[-1] * omega
    q = e1 * an + en * a1 + a1 * an * bulk.sum(axis=0)
    size = np.abs(e1 * an) + np.abs(en * a1) + np.abs(a1 * an) * np.abs(bulk).sum(axis=0)
    return size / np.abs(q)


def test_transmittance_padded_equals_unpadded(monkeypatch):
    """Equal to 1e-14 relative where the O(N) sum Q(ω) is well conditioned; near a narrow
    resonance its cancellation amplifies the change of summation order: there the bound is
    16 (N + 4) eps × cond(Q), cond(Q) = Σ|summands|/|Q| (a running-error bound for two
    summation orders and T ∝ 1/|Q|²; measured up to 3.5e-13 relative, cond ~1e3)."""
    rng = np.random.default_rng(3)
    omega = np.linspace(0.01, 3.0, 300)
    for k0 in (0.0, 0.4):
        chain = mf.MeanFieldChain(1.0 + rng.random(21), k=1.1, k0=k0, k_prime=0.3)
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
        ref = np.asarray(mf.transmittance(chain, omega))
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
        out = np.asarray(mf.transmittance(chain, omega))
        bound = 1e-14 + 16 * (chain.n + 4) * np.finfo(float).eps * _q_condition(chain, omega)
        assert np.all(np.abs(out - ref) <= bound * ref), np.max(np.abs(out / ref - 1) / bound)
        assert np.mean(np.abs(out - ref) <= 1e-14 * ref) > 0.9
        assert mf.transmittance(chain, 0.0) == pytest.approx(
            float(_transport.transmittance_grid(chain, jnp.zeros(()))), rel=1e-14, abs=1e-300)


def test_padded_transmittance_edge_frequencies(monkeypatch):
    """The padded T(ω) (weight-0 entries of mass −1, ``_green.chain_q``) at the points
    where a term is not finite: ω = 0 pinned (every real term +inf; T(0) = 0) and free
    (T(0) of Eq. 23), at a bulk resonance (T ≈ 0), k = 0 (T = 0) and
    k = k0 = 0 (T = 0; terms 0/0 at ω = 0): equal to the unpadded values, never NaN."""
    rng = np.random.default_rng(12)
    masses = 1.0 + rng.random(6)
    for k, k0 in ((1.0, 0.3), (1.0, 0.0), (0.0, 0.4), (0.0, 0.0)):
        chain = mf.MeanFieldChain(masses, k=k, k0=k0, k_prime=0.2 if k0 else 0.0)
        resonance = float(np.sqrt((float(chain.kappa_bar) + k0) / masses[2]))
        omega = jnp.array([0.0, resonance, 0.3, 1.7, 40.0])
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
        ref = np.asarray(mf.transmittance(chain, omega))
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
        out = np.asarray(mf.transmittance(chain, omega))
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(ref)), (k, k0, out, ref)
        np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-300, err_msg=str((k, k0)))
        assert out[1] < 1e-20 and (k0 == 0 or out[0] == 0)  # a bulk resonance; pinned ω = 0
        if k == 0:
            assert np.all(out == 0)


def test_padded_vmapped_transmittance_keeps_one_fused_sum(monkeypatch):
    """jit(vmap(transmittance)) padded to the bucket sums the O(N) terms of every frequency
    in one fused reduction, as the unpadded program does: its temporary memory is not the
    (chains × frequencies × N) array of terms that a per-element mask made XLA write out
    (the 3–4× padding tax of issue 27: 200 ms against 63 ms at 16 × 4096 × N = 1000)."""
    rng = np.random.default_rng(13)
    r, n, n_omega = 2, 40, 500  # bucket 64: the padded program sums 62 bulk terms
    batch = mf.stack_systems([mf.MeanFieldChain(1.0 + 0.1 * rng.random(n), k=1.0, k0=0.05)
                              for _ in range(r)])
    omega = jnp.linspace(0.01, 3.0, n_omega)
    temp = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", mode)
        program = jax.jit(jax.vmap(mf.transmittance, in_axes=(0, None)))
        temp[mode] = program.lower(batch, omega).compile().memory_analysis().temp_size_in_bytes
    terms = r * n_omega * 62 * 8
    assert temp["1"] <= 2 * temp["0"] + terms // 4, (temp, terms)


@pytest.mark.slow  # ~35 s of compilation (reverse mode, padded and unpadded); padded values stay default
def test_gradients_padded_equal_unpadded():
    rng = np.random.default_rng(4)
    chain = mf.MeanFieldChain(1.0 + rng.random(7), k=1.2, k0=0.1, gamma=0.8, k_prime=0.2)

    def flux(params, size=None):
        c, n = chain.replace(**params), None
        if size is not None:
            c, n = pad_chain(c, size)
        return _transport.flux_residues(c, n).flux

    params = {"k": chain.k, "k0": chain.k0, "gamma": chain.gamma, "masses": chain.masses}
    ref = jax.grad(flux)(params)
    out = jax.grad(lambda p: flux(p, size=12))(params)
    for name in params:
        np.testing.assert_allclose(out[name], ref[name], rtol=1e-12, atol=1e-15, err_msg=name)
        assert np.all(np.isfinite(out[name])), name


def test_one_compilation_per_bucket(monkeypatch):
    """Two N of one bucket (9, 11 → 16) compile the flux, temperature and transmittance
    programs at most once each (none if an earlier test compiled the bucket), the second N
    nothing (counted from jax.log_compiles); with the switch off, once per N (shown on the
    transmittance: the switch is read where a chain is padded, the same for every kernel)."""
    omega = jnp.linspace(0.1, 2.0, 5)
    rng = np.random.default_rng(5)
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    names = ("flux_residues", "_temperatures_residues", "batched")
    counts = []
    for n in (9, 11):
        chain = mf.MeanFieldChain(1.0 + rng.random(n), k=1.0, k0=0.1, t_right=0.5)
        with compile_log() as log:
            result = mf.heat_flux_with_error(chain)
            temps = mf.local_temperatures(chain)
            mf.transmittance(chain, omega)
        assert bool(result.converged) and temps.shape == (n,)
        counts.append([log.count(f"jit({f})") for f in names])
    assert max(counts[0]) <= 1 and counts[1] == [0, 0, 0], counts
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    with compile_log() as log:  # (the transmittance: the smallest program that pads)
        for n in (3, 4, 3):
            mf.transmittance(mf.MeanFieldChain(np.ones(n), k=1.0, k0=0.37), omega)
    assert log.count("jit(batched)") == 2, log.names


@pytest.mark.slow  # 5 s; ensembles of one bucket compiling once stay default
def test_vmap_batch_same_n_compiles_once():
    """jax.vmap(heat_flux_with_error) pads tracers from static shapes: equal to the
    single-system results, and batches of two N of one bucket (5, 7) share one batched
    program. (Under an outer jax.jit the whole program is compiled per input shape.)"""
    rng = np.random.default_rng(6)
    inner = _transport.flux_residues
    before = inner._cache_size()
    for n in (5, 7):
        chains = [mf.MeanFieldChain(1.0 + rng.random(n), k=1.0, gamma=g) for g in (0.5, 2.0)]
        out = jax.vmap(mf.heat_flux_with_error)(mf.stack_systems(chains))
        for i, chain in enumerate(chains):
            single = mf.heat_flux_with_error(chain)
            assert abs(out.flux[i] - single.flux) <= 1e-14 * abs(single.flux)
            assert bool(out.converged[i])
    # the single-system program of bucket 16 and the batched one (none if compiled before)
    assert inner._cache_size() - before <= 2


@pytest.mark.slow
def test_padded_equals_unpadded_fast_gap_path():
    """N = 259 and 1024 (bottom and top of the bucket 259…1024): the fast gap path."""
    rng = np.random.default_rng(7)
    for n in (259, 1024):
        chain = mf.MeanFieldChain(1.0 + 0.5 * rng.random(n), k=1.0, k0=0.05,
                                  t_left=1.5, t_right=0.5)
        ref = _flux_and_temperatures(chain)
        out = _flux_and_temperatures(*pad_chain(chain))
        assert abs(out[0] - ref[0]) <= 1e-13 * abs(ref[0])
        assert bool(out[2]) and bool(ref[2])
        np.testing.assert_allclose(trim_particles(out[4], n), ref[4], rtol=0, atol=1e-13)


# ----------------------------------------------------------------------------- ensembles, sweeps


@pytest.mark.slow  # ~20 s; ensembles of one bucket compiling once stays default
def test_ensemble_padded_equals_unpadded(monkeypatch):
    """ensemble_flux pads the batch to its bucket (17 → 64, the bottom of the bucket): J equal
    to the unpadded ensemble to 1e-14 relative on random, graded and identical masses, k0 = 0
    and > 0, both Ñ, k' > 0; the flags unchanged."""
    from meanfield_jax._ensemble import ensemble_flux

    rng = np.random.default_rng(8)
    n = 17
    chains = [mf.MeanFieldChain(_masses(kind, n, rng), k=1.3, k0=k0, n_tilde=n_tilde,
                                gamma=0.7, t_left=1.5, t_right=0.5, k_prime=k_prime)
              for kind, k0, n_tilde, k_prime in CASES]
    batch = mf.stack_systems(chains)
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    ref = ensemble_flux(batch, chunk_size=len(chains))
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    out = ensemble_flux(batch, chunk_size=len(chains))
    assert ref.converged.all() and out.converged.all()
    np.testing.assert_allclose(out.flux, ref.flux, rtol=1e-14, atol=0)


def test_ensembles_of_one_bucket_compile_once(monkeypatch):
    """Ensembles of N = 5 and N = 7 (bucket 16) run one compiled ensemble program."""
    from meanfield_jax._ensemble import ensemble_flux

    rng = np.random.default_rng(9)
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    counts = []
    for n in (5, 7):
        with compile_log() as log:
            res = ensemble_flux(mf.batch_chains(1.0 + rng.random((2, n)), k=1.0),
                                chunk_size=2)
        assert res.converged.all()
        counts.append(log.count("jit(run)"))
    # (none at N = 18 if an earlier test compiled this ensemble shape)
    assert counts[0] <= 1 and counts[1] == 0, counts


def test_sweep_buckets():
    """The sweep's programs (``merged_buckets``): fig4-quick (6 sizes, 72 chains each) 4,
    fig4 (12 sizes, 408 each) 10; every size padded only to a larger size of the job, on
    its side of the fast gap path, within the padding allowance of its work."""
    from meanfield_jax import _sweep, _sweep_config

    quick_cfg = _sweep_config.builtin_config("fig4-quick")
    full_cfg = _sweep_config.builtin_config("fig4")
    quick = _sweep.plan_tasks(quick_cfg).padded
    full = _sweep.plan_tasks(full_cfg).padded
    assert quick == (63, 63, 63, 158, 398, 1000)  # 398: its own program, not 1000's
    assert len(set(full)) == 10 and full[:3] == (35, 35, 35) and full[-1] == 10_000
    for cfg, padded, count in ((quick_cfg, quick, 72), (full_cfg, full, 408)):
        for n, b in zip(cfg.sizes, padded):
            assert b in cfg.sizes and b >= n and (b >= 259) == (n >= 259)
            extra = count * (_buckets.warm_cost(b) - _buckets.warm_cost(n))
            assert extra <= _buckets.padding_allowance(count * _buckets.warm_cost(n))
    # many chains per size: the padded work outweighs a compilation, nothing merged
    assert _buckets.merged_buckets([10, 25, 63], [10**5] * 3) == [10, 25, 63]
    assert _buckets.merged_buckets([10, 25], [72, 72], ladder=None) == [10, 25]
    # one chain each: everything below the fast gap path shares one program
    assert _buckets.merged_buckets([10, 25, 63, 158], [1] * 4) == [158] * 4
    # kinds never share a program (the O(N) FMM flux above 4096, networks: O(N³))
    assert _buckets.merged_buckets([4000, 5000], [1, 1], kinds=["residues", "residues-fmm"]) \
        == [4000, 5000]
    assert _buckets.merged_buckets([9, 10], [2, 2], kinds="network") == [10, 10]


def test_batch_rule():
    """``batch_bucket_size``: the interactive bucket while its padding costs a batch at
    most max(0.1 s, 10% of its work), then the coarsest finer ladder that does, then N; never
    more than one compilation of padding; no N changes its code path (258, 4096 are rungs
    of every ladder)."""
    b = _buckets
    assert [b.batch_bucket_size(400, r) for r in (1, 4, 64, 10**4, 10**5)] == \
        [1024, 431, 413, 404, 400]
    for kind in ("residues", "residues-fmm", "network"):
        for n in (3, 17, 100, 258, 259, 400, 1000, 4096, 4097, 6000, 20000):
            for count in (1, 2, 16, 64, 1000, 10**5):
                if kind == "residues-fmm" and n <= 4096:
                    continue
                size = b.batch_bucket_size(n, count, kind)
                work = count * b.warm_cost(n, kind)
                extra = count * (b.warm_cost(size, kind) - b.warm_cost(n, kind))
                what = (kind, n, count, size)
                assert size >= n and extra <= b.padding_allowance(work), what
                assert extra <= b.COMPILE_S and extra <= max(0.1, 0.1 * work), what
                assert (size >= 259) == (n >= 259) and (size > 4096) == (n > 4096), what
                if extra and work > 1.0:  # worth a finer ladder: within 10% (model)
                    assert extra <= 0.1 * work, what
    # small batches share the single calls' buckets (chains) / step buckets (networks)
    assert b.batch_bucket_size(10, 64) == b.bucket_size(10) == 16
    assert b.batch_bucket_size(9, 2, "network") == b.step_bucket_size(9) == 16


def test_ensemble_program_size(monkeypatch):
    """ensemble_flux's padding (no compilation here): a small batch pads to its bucket with
    the true N passed on; 64 chains of N = 400 run at 413 (16 per octave: ≤ 7% more work
    than the exact size, against 6.6× in the bucket 1024); 10⁵ chains at N = 400 exactly,
    unpadded; buckets off: always exact."""
    from meanfield_jax._ensemble import _pad_to_bucket

    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    for r, n, want in ((2, 5, 16), (64, 400, 413)):
        padded, args = _pad_to_bucket(mf.batch_chains(np.ones((r, n)), k=1.0), "residues")
        assert padded.masses.shape == (r, want) and int(args[0]) == n
    batch = mf.batch_chains(np.ones((3, 400)), k=1.0)
    monkeypatch.setattr(_buckets, "warm_cost", lambda n, kind="residues": 5e4 * 8e-8 * n**2)
    padded, args = _pad_to_bucket(batch, "residues")  # (as if 10⁵ chains)
    assert padded is batch and args == ()
    monkeypatch.undo()
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    from meanfield_jax._ensemble import pads_to_buckets
    assert not pads_to_buckets(batch, "residues")


@pytest.mark.slow
def test_sweep_padded_equals_unpadded(tmp_path, monkeypatch):
    """A residue sweep with buckets on (sizes 5, 9 → one program of size 9) equals the
    unpadded sweep: J to 1e-14 relative, the same flags, the same fits to rounding."""
    from meanfield_jax import _sweep, _sweep_config

    cfg = _sweep_config.make_config(dict(sizes=[5, 9], masses=["graded", "random"],
                                         k0=[0.0, 0.3], n_tilde=["kac", 1], realizations=2,
                                         seed=1, k_prime=0.2, fit_min_n=0))
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    ref = _sweep.run_sweep(cfg, str(tmp_path / "ref.nc"), progress=False)
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    out = _sweep.run_sweep(cfg, str(tmp_path / "out.nc"), progress=False)
    assert list(out.attrs["size_buckets"]) == [9, 9]
    assert list(ref.attrs["size_buckets"]) == [5, 9]
    np.testing.assert_array_equal(out["converged"].values, ref["converged"].values)
    np.testing.assert_allclose(out["flux"].values, ref["flux"].values, rtol=1e-14, atol=0)
    np.testing.assert_allclose(out["alpha"].values, ref["alpha"].values, rtol=1e-12)


# ----------------------------------------------------------------------------- resonances


@pytest.mark.parametrize("n", [17, 64])
def test_resonance_padded_equals_unpadded(monkeypatch, n):
    """resonance_frequency on the bucket program (N = 17 and 64: bottom and top of 17…64)
    equals the exact-N program: ω_c to 1e-14 relative, T(ω_c) to 1e-13, same status; the
    padded particles add no zero of T to the bracket (they carry the first, an end, mass)."""
    rng = np.random.default_rng(n)
    for kind in ("random", "graded", "identical"):
        masses = _masses(kind, n, rng)
        masses[0] = 0.5  # an end mass whose frequency would be a spurious bracket zero
        for k0, n_tilde, k_prime in ((1.0, "kac", 0.0), (0.0, 1.0, 0.3), (0.3, "kac", 0.2)):
            chain = mf.MeanFieldChain(masses, k=1.0, k0=k0, n_tilde=n_tilde, k_prime=k_prime)
            for guess in (0.5, 1.05, 2.0):
                monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
                ref = mf.resonance_frequency_with_error(chain, guess)
                monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
                out = mf.resonance_frequency_with_error(chain, guess)
                what = (n, kind, k0, n_tilde, k_prime, guess)
                assert bool(out.converged) == bool(ref.converged), what
                assert abs(out.omega - ref.omega) <= 1e-14 * abs(ref.omega), what
                assert abs(out.height - ref.height) <= 1e-13, what
                assert out.curvature_hwhm == pytest.approx(float(ref.curvature_hwhm), rel=1e-9)


def test_resonance_one_program_per_bucket_and_gradients(monkeypatch):
    """Two N of one bucket compile the resonance search once; dω_c/dk0 and dω_c/dγ through
    the padded program equal the exact-N program's."""
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    rng = np.random.default_rng(11)
    chains = [mf.MeanFieldChain(1.0 + 0.1 * rng.random(n), k=0.8, k0=0.6, gamma=0.9)
              for n in (30, 41)]
    mf.resonance_frequency_with_error(chains[0], 0.8)
    with compile_log() as log:
        assert bool(mf.resonance_frequency_with_error(chains[1], 0.8).converged)
    assert log.count("jit(_resonance_frequency)") == 0, log.names

    def omega_c(params):
        return mf.resonance_frequency_with_error(chains[1].replace(**params), 0.8).omega

    params = {"k0": chains[1].k0, "gamma": chains[1].gamma}
    padded = jax.grad(omega_c)(params)
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
    exact = jax.grad(omega_c)(params)
    for name in params:
        assert float(padded[name]) == pytest.approx(float(exact[name]), rel=1e-11), name


def _assert_peaks_equal(out, ref, what):
    """find_resonances results of one chain: same peaks; positions to 1e-12 of the
    frequency scale (~1), heights to 1e-9 (a peak of width w is flat to ~(δω/w)²: its
    maximiser stops where T is flat at rounding level), widths to 1e-9 relative; the same
    status, except that at most one peak whose values agree may change it: the Newton stop
    test works at rounding level, and one peak (identical masses, free, the peak above the
    band) is flagged by the exact-N program compiled at LLVM level 0 and not at level 2."""
    assert len(out.omega) == len(ref.omega), what
    assert np.sum(np.asarray(out.converged) != np.asarray(ref.converged)) <= 1, what
    np.testing.assert_allclose(out.omega, ref.omega, rtol=1e-12, atol=1e-12, err_msg=str(what))
    np.testing.assert_allclose(out.height, ref.height, rtol=0, atol=1e-9, err_msg=str(what))
    for field in ("hwhm", "hwhm_left", "hwhm_right"):
        np.testing.assert_allclose(getattr(out, field), getattr(ref, field), rtol=1e-9,
                                   err_msg=str((field,) + what))


@pytest.mark.slow  # 27 s; resonance padding (n = 17, 64) and one program per bucket stay default
def test_find_resonances_and_fits_padded_equal_unpadded(monkeypatch):
    """find_resonances and fit_resonance_lorentzians on the bucket program (N = 17 padded
    to 64) equal the exact-N programs: every peak (gap and collective seeds,
    the two edge seeds), its height, width and status; the fit's 𝒜, ω_c and width.
    Free and pinned chains, walls, both Ñ, random / graded / identical masses."""
    rng = np.random.default_rng(17)
    for n in (17,):
        for kind in ("random", "graded", "identical"):
            masses = _masses(kind, n, rng)
            for k0, n_tilde, k_prime in ((0.0, "kac", 0.0), (0.5, 1.0, 0.3)):
                chain = mf.MeanFieldChain(masses, k=1.0, k0=k0, n_tilde=n_tilde,
                                          k_prime=k_prime)
                what = (n, kind, k0, n_tilde, k_prime)
                monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "0")
                ref, ref_fit = (mf.find_resonances(chain, threshold=1e-8),
                                mf.fit_resonance_lorentzians(chain))
                monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
                out, fit = (mf.find_resonances(chain, threshold=1e-8),
                            mf.fit_resonance_lorentzians(chain))
                _assert_peaks_equal(out, ref, what)
                assert bool(fit.converged) == bool(ref_fit.converged), what
                for field in ("A", "A_exact", "hwhm", "height"):
                    assert float(getattr(fit, field)) == pytest.approx(
                        float(getattr(ref_fit, field)), rel=1e-10), (field,) + what
                assert abs(float(fit.omega_c) - float(ref_fit.omega_c)) <= 1e-12, what


def test_find_resonances_one_program_per_bucket(monkeypatch):
    """Two N of one bucket (30, 41 → 64) run one compiled find_resonances program and one
    Lorentzian fit; with padding, the padded output (``padded=True``) has the bucket's
    length and marks the peaks of the real chain only."""
    monkeypatch.setenv("MEANFIELD_JAX_BUCKETS", "1")
    rng = np.random.default_rng(12)
    chains = [mf.MeanFieldChain(1.0 + 0.2 * rng.random(n), k=1.0, k0=0.4) for n in (30, 41)]
    first = mf.find_resonances(chains[0], padded=True)
    mf.fit_resonance_lorentzians(chains[0])
    with compile_log() as log:
        second = mf.find_resonances(chains[1], padded=True)
        assert bool(mf.fit_resonance_lorentzians(chains[1]).converged)
    assert log.count("jit(_find_chain)") == 0, log.names
    assert log.count("jit(_fit_resonance)") == 0, log.names
    assert first.omega.shape == second.omega.shape == (64 + 5,)
    # every gap between the 39 distinct bulk frequencies holds one peak, plus the collective
    # and edge peaks: at least 38 valid entries, none from the 23 padded particles' seeds
    valid = np.asarray(second.valid)
    assert 38 <= valid.sum() <= 41 + 5
    assert np.all(np.isfinite(np.asarray(second.omega)[valid]))
