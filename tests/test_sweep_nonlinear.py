"""Nonlinear sweeps (issue 28): ``run_sweep`` with ``nonlinearity = "fput" | "rotors"`` runs
every system of the grid through the Langevin engine.

References: every task is recomputed here by a direct ``simulate`` call on a system built
from the constructors (``MeanFieldChain``, ``networks.power_law``, ``nonlinear.fput`` /
``rotors``) with the documented noise key ``fold_in(masses.realization_key(seed, N, r), 2)``
(written out here, not taken from the sweep), and must agree bit for bit; the harmonic limit
(β = λ = 0) against the harmonic engine bit for bit, and against the exact J and T_n within
3σ. Tiny N and few steps: each compiled step program is shared by the tests (same shapes).
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np
import pytest
import xarray as xr

import meanfield_jax as mf
from meanfield_jax import _cli, _io, _langevin, _sweep
from meanfield_jax import masses as ms
from meanfield_jax import nonlinear as nl
from meanfield_jax._io import netcdf_engine
from meanfield_jax._sweep import run_sweep
from meanfield_jax._sweep_config import LANGEVIN_KEYS, make_config

FPUT = dict(sizes=[4, 6], masses=["identical", "random"], k=1.0, k0=[0.0, 0.1],
            n_tilde=["kac"], realizations=2, seed=3, chunk_size=3, fit_min_n=0,
            nonlinearity="fput", beta=1.0, lam=0.1, t_left=1.5, t_right=0.5,
            dt=0.05, n_steps=300, burn_in=100, n_trajectories=16, steps_per_call=100)
VALUES = ("flux", "flux_error", "converged", "flux_mean", "flux_stderr", "flux_left",
          "flux_right", "flux_left_stderr", "flux_right_stderr", "temperatures",
          "temperatures_stderr", "temperatures_mean", "temperatures_mean_stderr", "alpha",
          "n_realizations")


def _key(seed, n, r):  # the documented noise key, written out independently of the sweep
    return jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), n),
                                                 r), 2)


def _simulate(system, cfg, n, r, **kw):
    return mf.simulate(system, _key(cfg["seed"], n, r), cfg["n_trajectories"], cfg["dt"],
                       cfg["n_steps"], cfg["burn_in"], cfg.get("initial", "rest"),
                       chunk_size=cfg["steps_per_call"], profiles=cfg.get("profiles", False),
                       progress=False, **kw)


def _same(a, b, names=VALUES):
    for name in names:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def _assert_task(ds, res, sel):
    """One grid point of the dataset equals a direct simulate result, bit for bit."""
    point = ds.sel(**sel)
    n = int(sel["N"])
    for name in ("flux_left", "flux_right", "flux_left_stderr", "flux_right_stderr"):
        assert float(point[name]) == getattr(res, name), name
    np.testing.assert_array_equal(point["temperatures"].values[:n], res.temperatures)
    np.testing.assert_array_equal(point["temperatures_stderr"].values[:n],
                                  res.temperatures_stderr)
    assert np.isnan(point["temperatures"].values[n:]).all()
    assert float(point["flux"]) == 0.5 * (res.flux_left + res.flux_right)
    assert float(point["flux_error"]) == 0.5 * (res.flux_left_stderr + res.flux_right_stderr)


@pytest.fixture(scope="module")
def fput_result(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("nl") / "fput.nc")
    return out, run_sweep(make_config(FPUT), out, progress=False, log=lambda m: None)


# ----------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("change, key", [
    (dict(nonlinearity="phi4"), "nonlinearity"),
    (dict(nonlinearity=3), "nonlinearity"),
    (dict(nonlinearity="none"), "beta"),          # a nonlinear key without nonlinearity
    (dict(beta=None), "beta"),                    # required with fput
    (dict(beta=-1.0), "beta"),
    (dict(beta=float("nan")), "beta"),
    (dict(beta="1"), "beta"),
    (dict(beta=[1.0, 2.0]), "beta"),
    (dict(lam=-0.5), "lam"),
    (dict(lam=float("inf")), "lam"),
    (dict(field=0.1), "field"),                   # field with fput
    (dict(nonlinearity="rotors", lam=None, k0=[0.0]), "beta"),   # beta with rotors
    (dict(nonlinearity="rotors", beta=None, lam=None, k0=[0.0], field=-1.0), "field"),
    (dict(nonlinearity="rotors", beta=None, lam=None), "k0"),      # pinned angles
    (dict(nonlinearity="rotors", beta=None, lam=None, k0=[0.0], k_prime=0.5), "k_prime"),
    (dict(method="lyapunov"), "method"),
    (dict(hbar=1.0), "hbar"),
    (dict(batch_size=2), "batch_size"),
    (dict(dt=0.0), "dt"),
    (dict(dt=float("nan")), "dt"),
    (dict(n_steps=0), "n_steps"),
    (dict(n_steps=10.5), "n_steps"),
    (dict(burn_in=300), "burn_in"),
    (dict(n_trajectories=1), "n_trajectories"),
    (dict(initial="hot"), "initial"),
    (dict(t_initial=1.0), "t_initial"),           # only with initial = "thermal"
    (dict(initial="thermal", t_initial=-1.0), "t_initial"),
    (dict(profiles="yes"), "profiles"),
    (dict(profiles=1), "profiles"),
    (dict(steps_per_call=0), "steps_per_call"),
])
def test_invalid_nonlinear_config_names_the_key(change, key):
    raw = {**FPUT, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ValueError, match=f"'{key}'"):
        make_config(raw)


@pytest.mark.parametrize("key", LANGEVIN_KEYS)
def test_langevin_key_without_nonlinearity_names_the_key(key):
    harmonic = {k: v for k, v in FPUT.items() if k not in LANGEVIN_KEYS + ("nonlinearity",)}
    make_config(harmonic)
    with pytest.raises(ValueError, match=f"'{key}'"):
        make_config({**harmonic, key: FPUT.get(key, "thermal" if key == "initial" else 1.0)})


def test_harmonic_config_is_unchanged_by_the_new_keys():
    """nonlinearity absent or "none": the exact sweep's hash, keys and dataset attributes
    are those of c0b67c1 (the hash literal below was computed there; the datasets of three
    exact sweeps were compared bit for bit against c0b67c1 when this was written)."""
    small = dict(sizes=[4, 6, 9], masses=["identical", "graded", "random", "alternating"],
                 k0=[0.0, 0.02], n_tilde=["kac", 1], realizations=[3, 3, 2], seed=5,
                 chunk_size=4, method="lyapunov", fit_min_n=0)
    cfg = make_config(small)
    assert cfg.config_hash() == "a5b3ae869f994b79"
    assert make_config({**small, "nonlinearity": "none"}) == cfg and not cfg.langevin
    assert not {"nonlinearity", "beta", "dt", "n_steps"} & set(cfg.to_dict())
    nl_cfg = make_config(FPUT)
    assert nl_cfg.langevin and nl_cfg.config_hash() != make_config(
        {**FPUT, "beta": 2.0}).config_hash()
    assert "method" not in nl_cfg.to_dict() and nl_cfg.to_dict()["beta"] == 1.0
    # defaults: burn_in = n_steps // 5, lam = 0, steps_per_call = min(1000, n_steps)
    raw = {k: v for k, v in FPUT.items() if k not in ("burn_in", "lam", "n_steps",
                                                     "steps_per_call")}
    d = make_config(raw)
    assert (d.n_steps, d.burn_in, d.lam, d.steps_per_call) == (100_000, 20_000, 0.0, 1000)
    d = make_config({**raw, "n_steps": 300})
    assert (d.burn_in, d.steps_per_call) == (60, 300)


def test_example_config_is_a_valid_nonlinear_sweep():
    from meanfield_jax._sweep import plan_tasks
    from meanfield_jax._sweep_config import load_config

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = load_config(os.path.join(root, "configs", "sweep_fput_example.toml"))
    assert cfg.langevin and cfg.nonlinearity == "fput" and cfg.model == "power_law"
    assert plan_tasks(cfg).n_tasks == len(cfg.alpha) * len(cfg.sizes)


# ----------------------------------------------------------------------------- results


def test_fput_sweep_layout_and_tasks_equal_simulate(fput_result):
    out, ds_mem = fput_result
    ds = xr.load_dataset(out, engine=netcdf_engine())
    _same(ds, ds_mem)
    assert ds.attrs["method"] == "langevin" and ds.attrs["integrator"] == "BAOAB"
    for key, value in (("dt", 0.05), ("n_steps", 300), ("burn_in", 100), ("seed", 3),
                       ("n_trajectories", 16), ("nonlinearity", "fput"), ("beta", 1.0),
                       ("lam", 0.1), ("initial", "rest"), ("steps_per_call", 100)):
        assert ds.attrs[key] == value, key
    assert ds["flux"].dims == ("masses", "k0", "n_tilde", "N", "realization")
    assert ds["temperatures"].dims == ds["flux"].dims + ("particle",)
    assert ds["temperatures"].shape == (2, 2, 1, 2, 2, 6)
    assert "flux_asymptotic" not in ds
    assert not [p for p in os.listdir(os.path.dirname(out)) if p != "fput.nc"]  # no leftovers
    # every task against a direct simulate of the system built by the constructors
    for kind, r in (("identical", 0), ("random", 0), ("random", 1)):
        for n in (4, 6):
            for k0 in (0.0, 0.1):
                chain = mf.MeanFieldChain(ms.from_kind(kind, n, seed=3, realization=r), k=1.0,
                                          k0=k0, t_left=1.5, t_right=0.5)
                res = _simulate(nl.fput(chain, beta=1.0, lam=0.1), FPUT, n, r)
                _assert_task(ds, res, dict(masses=kind, k0=k0, n_tilde="kac", N=n,
                                           realization=r))
    # deterministic masses: one realization, its own error; random: the sample over R = 2
    ident = ds.sel(masses="identical")
    assert np.isnan(ident["flux"].sel(realization=1)).all()
    np.testing.assert_array_equal(ident["flux_stderr"], ident["flux_error"].sel(realization=0))
    rnd = ds["flux"].sel(masses="random").values
    np.testing.assert_allclose(ds["flux_mean"].sel(masses="random"), rnd.mean(-1), rtol=1e-14)
    np.testing.assert_allclose(ds["flux_stderr"].sel(masses="random"),
                               rnd.std(-1, ddof=1) / np.sqrt(2), rtol=1e-12)
    np.testing.assert_array_equal(ds["n_realizations"].sel(masses="random"), [2, 2])


def test_harmonic_limit_is_bit_identical_to_the_harmonic_engine(tmp_path):
    """β = λ = 0: each task equals ``simulate`` of the harmonic network with the same key
    (power law α = 0 and 2: the mean-field and dense harmonic forces)."""
    cfg = {**FPUT, "model": "power_law", "alpha": [0, 2], "beta": 0.0, "lam": 0.0,
           "masses": ["graded"], "k0": [0.1], "sizes": [5]}
    ds = run_sweep(make_config(cfg), str(tmp_path / "h.nc"), progress=False)
    m = ms.from_kind("graded", 5, seed=3)
    for alpha in (0.0, 2.0):
        net = mf.networks.power_law(m, alpha, k=1.0, k0=0.1, t_left=1.5, t_right=0.5)
        res = _simulate(net, cfg, 5, 0)
        assert res.nonlinearity == ""  # the harmonic engine itself
        _assert_task(ds, res, dict(masses="graded", coupling_alpha=alpha, k0=0.1,
                                   n_tilde="kac", N=5, realization=0))


def test_harmonic_limit_agrees_with_the_exact_flux_and_temperatures(tmp_path):
    """β = λ = 0 through the sweep against the exact J and T_n of the same network from
    the independent dense Lyapunov oracle (``reference_numpy``), within 3σ (the time-step
    bias at dt = 0.05, ~1e-3 relative, is far below σ ≈ 3% here). The step program is the
    previous test's."""
    from reference_numpy import lyapunov_steady_state
    from reference_quantum_mp import power_law_stiffness

    cfg = {**FPUT, "model": "power_law", "alpha": [2], "beta": 0.0, "lam": 0.0,
           "masses": ["graded"], "delta": 0.5, "k0": [0.1], "sizes": [5], "n_tilde": [1],
           "n_steps": 40_000, "burn_in": 4_000, "initial": "thermal"}
    ds = run_sweep(make_config(cfg), str(tmp_path / "x.nc"), progress=False)
    masses = np.linspace(0.5, 1.5, 5)  # graded, δ = 0.5
    np.testing.assert_allclose(ms.from_kind("graded", 5, delta=0.5), masses, rtol=1e-15)
    ref = lyapunov_steady_state(masses, power_law_stiffness(5, 2.0, k=1.0, k0=0.1), 1.0,
                                1.5, 0.5)
    point = ds.isel(masses=0, coupling_alpha=0, k0=0, n_tilde=0, N=0, realization=0)
    for name in ("flux_left", "flux_right"):
        assert abs(float(point[name]) - ref["flux"]) < 3 * float(point[name + "_stderr"]), name
        assert float(point[name + "_stderr"]) < 0.05 * ref["flux"]  # a test that can fail
    z = (point["temperatures"].values - ref["temperatures"]) / point["temperatures_stderr"].values
    assert (np.abs(z) < 3).all(), z


def test_rotor_sweep_has_the_magnetisation_and_profiles_and_equals_simulate(tmp_path):
    cfg = {**FPUT, "nonlinearity": "rotors", "field": 0.2, "k0": [0.0], "sizes": [5],
           "masses": ["graded"], "profiles": True}
    del cfg["beta"], cfg["lam"]
    ds = run_sweep(make_config(cfg), str(tmp_path / "r.nc"), progress=False)
    assert ds.attrs["nonlinearity"] == "rotors" and ds.attrs["field"] == 0.2
    chain = mf.MeanFieldChain(ms.from_kind("graded", 5, seed=3), k=1.0, t_left=1.5,
                              t_right=0.5)
    res = _simulate(nl.rotors(chain, field=0.2), cfg, 5, 0)
    point = ds.isel(masses=0, k0=0, n_tilde=0, N=0, realization=0)
    _assert_task(ds, res, dict(masses="graded", k0=0.0, n_tilde="kac", N=5, realization=0))
    for name in ("magnetisation", "magnetisation_sq", "magnetisation_stderr"):
        assert float(point[name]) == getattr(res, name), name
    for name in ("positions_sq", "positions_sq_stderr", "energies", "energies_stderr"):
        np.testing.assert_array_equal(point[name].values[:5], getattr(res, name), err_msg=name)
    assert "cos theta_n" in ds["positions_sq"].attrs["long_name"]
    assert ds.attrs["profiles"] == 1  # netCDF has no booleans


# ----------------------------------------------------------------------------- resume


def _interrupting(monkeypatch, module, name, k):
    """Make ``module.name`` (a writer) raise KeyboardInterrupt after its k-th call."""
    real = getattr(module, name)
    calls = []

    def flaky(*args):
        real(*args)
        calls.append(1)
        if len(calls) == k:
            raise KeyboardInterrupt

    monkeypatch.setattr(module, name, flaky)
    return real


def test_interrupted_sweep_resumes_to_the_same_dataset(fput_result, tmp_path, monkeypatch):
    """Interrupted after its 5th task (sweep checkpoint), then in the middle of the 6th
    (its own checkpoint, written every 100 steps here): the rerun resumes both and gives
    the uninterrupted dataset bit for bit."""
    _, ref = fput_result
    out = str(tmp_path / "r.nc")
    real = _interrupting(monkeypatch, _sweep, "atomic_write_bytes", 5)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(make_config(FPUT), out, progress=False, log=lambda m: None)
    assert os.path.exists(out + ".partial.npz") and not os.path.exists(out)
    monkeypatch.setattr(_sweep, "atomic_write_bytes", real)

    monkeypatch.setattr(_sweep, "TASK_CHECKPOINT_S", 0.0)
    save = _interrupting(monkeypatch, _langevin, "_save_checkpoint", 2)  # at step 200 of 300
    with pytest.raises(KeyboardInterrupt):
        run_sweep(make_config(FPUT), out, progress=False, log=lambda m: None)
    assert os.path.exists(out + ".task5.npz")
    monkeypatch.setattr(_langevin, "_save_checkpoint", save)
    messages = []
    ds = run_sweep(make_config(FPUT), out, progress=False, log=messages.append)
    assert any("resuming: 5 of 12" in m for m in messages), messages
    assert any("resuming from checkpoint" in m and "task5" in m for m in messages), messages
    assert sorted(os.listdir(tmp_path)) == ["r.nc"]
    _same(ds, ref)
    _same(xr.load_dataset(out, engine=netcdf_engine()), ref)


def test_results_independent_of_chunk_size_and_foreign_checkpoints_refused(fput_result,
                                                                            tmp_path):
    _, ref = fput_result
    _same(run_sweep(make_config({**FPUT, "chunk_size": 5}), str(tmp_path / "c5.nc"),
                    progress=False), ref)
    out = str(tmp_path / "r.nc")
    _sweep.atomic_write_bytes(out + ".partial.npz", _io.TaskResults(12, "0" * 16).to_bytes())
    with pytest.raises(ValueError, match="different sweep configuration"):
        run_sweep(make_config(FPUT), out, progress=False)


# ----------------------------------------------------------------------------- bad input, CLI


def test_unstable_time_step_names_dt_before_computing(tmp_path, monkeypatch):
    monkeypatch.setattr(_langevin, "simulate", lambda *a, **k: pytest.fail("must not run"))
    with pytest.raises(ValueError, match="'dt'.*unstable.*N = 4"):
        run_sweep(make_config({**FPUT, "dt": 1.75}), str(tmp_path / "r.nc"), progress=False)
    assert not os.listdir(tmp_path)


def test_cli_nonlinear_sweep(fput_result, tmp_path, capsys):
    _, ref = fput_result
    lines = []
    for key, value in FPUT.items():
        text = (f'"{value}"' if isinstance(value, str) else
                "[" + ", ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in value)
                + "]" if isinstance(value, list) else repr(value))
        lines.append(f"{key} = {text}")
    cfg = tmp_path / "nl.toml"
    cfg.write_text("\n".join(lines).replace("beta = 1.0", "beta = 7.0") + "\n")
    out = tmp_path / "nl.nc"
    assert _cli.main(["sweep", str(cfg), "--beta", "1", "--out", str(out), "--no-progress",
                      "--no-compile-cache"]) == 0
    assert "fitted exponents" in capsys.readouterr().out
    _same(xr.load_dataset(out, engine=netcdf_engine()), ref)
    for flags, key in ((["--nonlinearity", "phi4"], "nonlinearity"), (["--lam", "-1"], "lam"),
                       (["--field", "0.5"], "field"), (["--plot", str(tmp_path / "f.png")],
                                                       "--plot")):
        assert _cli.main(["sweep", str(cfg), "--out", str(tmp_path / "x.nc"), *flags]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and key in err, err
    assert not (tmp_path / "x.nc").exists()
    # a simulation that blows up (β x² ≫ 1/dt²: the harmonic dt check cannot see it) is
    # reported, excluded from the means, and the exit status says so
    assert _cli.main(["sweep", str(cfg), "--out", str(tmp_path / "d.nc"), "--beta", "1e4",
                      "--t-left", "100", "--sizes", "4", "--masses", "identical", "--k0", "0",
                      "--no-progress", "--no-compile-cache"]) == 1
    err = capsys.readouterr().err
    assert "N = 4, masses identical" in err and "1 systems diverged" in err, err
    ds = xr.load_dataset(tmp_path / "d.nc", engine=netcdf_engine())
    assert ds.attrs["n_diverged"] == 1 and int(ds["converged"].sum()) == 0
    assert np.isnan(ds["flux_mean"]).all()


@pytest.mark.slow  # ~30 s of subprocess runs; in-process interruption and resume stays default
@pytest.mark.usefixtures("sigint_reaches_children")
def test_killed_nonlinear_sweeps_resume_to_the_same_dataset(tmp_path_factory, tmp_path):
    """SIGKILL / SIGINT / SIGTERM to the ``meanfield-jax sweep`` process at random moments
    of a nonlinear sweep; rerunning the same command until it ends gives the in-process
    dataset bit for bit."""
    import random
    import signal
    import subprocess

    from test_sweep import _cli_cmd, _env, _mtime, _write_toml

    cfg = {**FPUT, "n_steps": 6000, "burn_in": 1000}
    ref = run_sweep(make_config(cfg), str(tmp_path / "ref.nc"), progress=False)
    config = _write_toml(tmp_path / "nl.toml", cfg)
    out = tmp_path / "nl.nc"
    cmd = _cli_cmd("sweep", config, "--out", str(out), "--no-progress")
    env = _env(str(tmp_path_factory.mktemp("xla_cache")))
    rng = random.Random(28)
    signals = [signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    interrupted = 0
    for attempt in range(10):
        before = _mtime(str(out) + ".partial.npz")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if attempt < len(signals):
            try:  # signal once this process has finished a system (the sweep loop runs)
                deadline = time.time() + 60
                while (time.time() < deadline and proc.poll() is None
                       and _mtime(str(out) + ".partial.npz") == before):
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.3))
                if proc.poll() is None:
                    proc.send_signal(signals[attempt])
                    interrupted += 1
            finally:
                stdout, stderr = proc.communicate(timeout=120)
            if signals[attempt] != signal.SIGKILL and proc.returncode != 0:
                assert proc.returncode == 128 + signals[attempt], stderr[-2000:]
                assert "resume" in stderr.splitlines()[-1] and "Traceback" not in stderr
        else:
            stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, stderr[-3000:]
    assert interrupted >= 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nl.nc", "nl.toml", "ref.nc"]
    _same(xr.load_dataset(out, engine=netcdf_engine()), ref)
