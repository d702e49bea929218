"""Tests for the resumable sweep (meanfield_jax._sweep and its config, dataset and report
modules), its CLI and the Fig. 4 plot.

The machinery tests use method="lyapunov" at small N (fast to compile); the flux method
itself is tested in test_ensemble.py and test_transport. Subprocess tests (kill/resume, two
jax.distributed processes) share a persistent XLA compilation cache to keep them quick.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
import xarray as xr

import meanfield_jax  # noqa: F401
from meanfield_jax import _cli, _dataset, _io, _report, _sweep, analytic
from meanfield_jax import masses as ms
from meanfield_jax._io import netcdf_engine
from meanfield_jax._stats import fit_power_law
from meanfield_jax._sweep import run_sweep
from meanfield_jax._sweep_config import builtin_config, load_config, make_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SMALL = dict(sizes=[4, 6, 9], masses=["identical", "graded", "random", "alternating"],
             k0=[0.0, 0.02], n_tilde=["kac", 1], realizations=[3, 3, 2], seed=5,
             chunk_size=4, method="lyapunov", fit_min_n=0)
# for the subprocess tests: many small chunks, a few seconds of work
LONG = dict(sizes=[4, 5, 6, 7], masses=["identical", "random"], k0=[0.0, 0.02],
            n_tilde=["kac", 1], realizations=60, seed=3, chunk_size=2, method="lyapunov",
            fit_min_n=0)


def _load(path):
    return xr.load_dataset(path, engine=netcdf_engine())


def _assert_same_results(a, b):
    for name in ("flux", "flux_error", "converged", "flux_mean", "flux_stderr", "alpha",
                 "alpha_stderr", "n_realizations"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def _write_toml(path, mapping):
    def fmt(v):
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return repr(v)
    path.write_text("".join(f"{k} = {fmt(v)}\n" for k, v in mapping.items()))
    return str(path)


pytestmark = pytest.mark.usefixtures("sigint_reaches_children")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("xla_cache"))


def _env(cache_dir, devices=1):
    return dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=cache_dir,
                XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "  # the suite's flags (conftest)
                          f"--xla_force_host_platform_device_count={devices}",
                PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _cli_cmd(*args):
    return [sys.executable, "-m", "meanfield_jax._cli", *args]


# ----------------------------------------------------------------------------- configuration


def test_builtin_configs_match_the_toml_files():
    for name, fname in (("fig4", "fig4.toml"), ("fig4-quick", "fig4_quick.toml")):
        assert builtin_config(name) == load_config(os.path.join(ROOT, "configs", fname))
    full = builtin_config("fig4")
    assert len(full.sizes) == 12 and full.sizes[0] == 10 and full.sizes[-1] == 10_000
    assert full.k == 0.1 and full.gamma == 1.0 and full.k0 == (0.0, 0.02)
    assert full.n_tilde == ("kac", 1.0) and full.delta == 0.1
    assert full.realizations == (100,) * 12  # the acceptance: R = 100 at every size


@pytest.mark.parametrize("change, key", [
    (dict(colour="red"), "colour"),
    (dict(sizes=[1, 10]), "sizes"),
    (dict(sizes=[10, 10]), "sizes"),
    (dict(masses=["heavy"]), "masses"),
    (dict(delta=1.5), "delta"),
    (dict(m=0), "m"),
    (dict(k=0.0), "k"),
    (dict(k0=[-1.0]), "k0"),
    (dict(n_tilde=["N"]), "n_tilde"),
    (dict(n_tilde=[0]), "n_tilde"),
    (dict(gamma=-1), "gamma"),
    (dict(realizations=[1, 2]), "realizations"),
    (dict(realizations=0), "realizations"),
    (dict(seed=-3), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(method="euler"), "method"),
    (dict(t_left="hot"), "t_left"),
    (dict(model="ising"), "model"),
    (dict(alpha=[1.0]), "alpha"),  # alpha only with model = "power_law"
    (dict(model="random_springs", alpha=[1.0]), "alpha"),
    (dict(model="power_law"), "alpha"),  # required there
    (dict(model="power_law", alpha=[-1.0]), "alpha"),
    (dict(model="power_law", alpha=[1, 1.0]), "alpha"),
    (dict(model="power_law", alpha=["two"]), "alpha"),
])
def test_invalid_config_names_the_key(change, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        make_config({**SMALL, **change})


def test_cli_rejects_bad_config_before_computing(tmp_path, capsys):
    cfg = _write_toml(tmp_path / "bad.toml", {**SMALL, "temperature": 3.0})
    out = tmp_path / "r.nc"
    start = time.perf_counter()
    assert _cli.main(["sweep", cfg, "--out", str(out)]) == 2
    assert time.perf_counter() - start < 5
    assert "'temperature'" in capsys.readouterr().err
    assert not list(tmp_path.glob("r.nc*"))
    assert _cli.main(["sweep", "--builtin", "fig4-quick", "--delta", "2", "--out", str(out)]) == 2
    assert "'delta'" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["missing", "file", "proc"])
def test_unwritable_output_fails_at_once(tmp_path, capsys, where):
    (tmp_path / "afile").write_text("x")
    out = {"missing": tmp_path / "no" / "such" / "dir" / "r.nc",
           "file": tmp_path / "afile" / "r.nc",
           "proc": "/proc/meanfield_jax_test.nc"}[where]
    start = time.perf_counter()
    assert _cli.main(["sweep", "--builtin", "fig4", "--out", str(out)]) == 2
    assert time.perf_counter() - start < 5
    err = capsys.readouterr().err
    assert "--out" in err and ("does not exist" in err or "cannot write" in err)


def test_fit_power_law():
    n = np.array([10.0, 30.0, 100.0, 300.0, 1000.0])
    a, da, c, p = fit_power_law(n, 2.0 * n**-0.9)
    assert a == pytest.approx(0.9, abs=1e-12) and da == pytest.approx(0, abs=1e-10)
    assert c == pytest.approx(np.log(2.0)) and p == 5
    a, _, _, p = fit_power_law(n, 2.0 * n**-0.9, min_n=50, max_n=500)
    assert p == 2 and a == pytest.approx(0.9)
    # weights: a noisy point with a huge error bar barely moves the fit
    y = n**-1.0
    y[0] *= 1.5
    err = 1e-3 * y
    err[0] = 10 * y[0]
    a, da, _, _ = fit_power_law(n, y, err)
    assert a == pytest.approx(1.0, abs=1e-3)
    assert np.isnan(fit_power_law(n[:1], y[:1])[0])


# ----------------------------------------------------------------------------- sweeps


@pytest.fixture(scope="module")
def small_result(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("small") / "small.nc")
    ds = run_sweep(make_config(SMALL), out, progress=False)
    return out, ds


def test_dataset_layout_and_values(small_result):
    out, ds_mem = small_result
    ds = _load(out)
    assert ds.attrs["complete"] == 1
    assert ds["flux"].dims == ("masses", "k0", "n_tilde", "N", "realization")
    assert ds["flux"].shape == (4, 2, 2, 3, 3)
    assert list(ds["n_tilde"].values) == ["kac", "1"]
    for key in ("seed", "method", "jax_version", "meanfield_jax_version", "devices", "delta",
                "gamma", "k", "config_json", "fit_min_n", "realizations"):
        assert key in ds.attrs, key
    assert ds.attrs["method"] == "lyapunov" and ds.attrs["seed"] == 5
    assert not os.path.exists(out + ".partial.npz")
    _assert_same_results(ds, ds_mem)
    assert ds["converged"].values[np.isfinite(ds["flux"].values)].all()
    # deterministic masses: one value at realization 0, stderr 0
    det = ds["flux"].sel(masses="identical")
    assert np.isfinite(det.sel(realization=0)).all() and np.isnan(det.sel(realization=[1, 2])).all()
    np.testing.assert_array_equal(ds["flux_stderr"].sel(masses="graded"), 0.0)
    # random masses: realizations per size, NaN beyond
    rnd = ds["flux"].sel(masses="random")
    assert np.isnan(rnd.isel(N=2, realization=2)).all() and np.isfinite(rnd.isel(N=2, realization=1)).all()
    np.testing.assert_array_equal(ds["n_realizations"].sel(masses="random"), [3, 3, 2])
    mean = np.nanmean(rnd.values, axis=-1)
    np.testing.assert_allclose(ds["flux_mean"].sel(masses="random"), mean, rtol=1e-14)
    # identical masses: the exact closed form (Lyapunov solve: 1e-8)
    for k0 in (0.0, 0.02):
        for nt in ("kac", "1"):
            n = ds["N"].values
            ntv = n - 1.0 if nt == "kac" else np.ones_like(n, dtype=float)
            exact = analytic.flux_identical_exact(n, 1.0, 0.1, k0, ntv, 1.0)
            got = ds["flux_mean"].sel(masses="identical", k0=k0, n_tilde=nt).values
            np.testing.assert_allclose(got, exact, rtol=1e-8)
    assert ds["alpha"].shape == (4, 2, 2) and np.isfinite(ds["alpha"]).all()


def test_random_realization_reproducible_alone(small_result):
    import meanfield_jax as mf

    _, ds = small_result
    chain = mf.MeanFieldChain(ms.from_kind("random", 6, seed=5, realization=2), k=0.1,
                              k0=0.02, n_tilde="kac")
    got = ds["flux"].sel(masses="random", k0=0.02, n_tilde="kac", N=6, realization=2)
    np.testing.assert_allclose(float(got), float(mf.heat_flux(chain, method="lyapunov")),
                               rtol=1e-12)


def test_results_independent_of_chunk_size(small_result, tmp_path):
    _, ref = small_result
    ds = run_sweep(make_config({**SMALL, "chunk_size": 7}), str(tmp_path / "c7.nc"),
                   progress=False)
    _assert_same_results(ds, ref)


def _interrupt_after_checkpoint(monkeypatch, k):
    """Make the sweep raise KeyboardInterrupt right after its k-th checkpoint write;
    returns the real writer (to restore it)."""
    real = _sweep.atomic_write_bytes
    calls = {"n": 0}

    def flaky(path, data):
        real(path, data)
        calls["n"] += 1
        if calls["n"] == k:
            raise KeyboardInterrupt

    monkeypatch.setattr(_sweep, "atomic_write_bytes", flaky)
    return real


def test_resume_after_interruption_in_process(small_result, tmp_path, monkeypatch):
    _, ref = small_result
    out = str(tmp_path / "r.nc")
    real = _interrupt_after_checkpoint(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(make_config(SMALL), out, progress=False)
    assert os.path.exists(out + ".partial.npz") and not os.path.exists(out)
    monkeypatch.setattr(_sweep, "atomic_write_bytes", real)
    messages = []
    ds = run_sweep(make_config(SMALL), out, progress=False, log=messages.append)
    assert any("resuming: 20 of" in m for m in messages)  # 5 chunks of 4 chains
    _assert_same_results(ds, ref)
    _assert_same_results(_load(out), ref)


def test_checkpoint_of_another_config_is_refused(tmp_path, monkeypatch):
    out = str(tmp_path / "r.nc")
    other = _io.TaskResults(3, "0" * 16)
    _sweep.atomic_write_bytes(out + ".partial.npz", other.to_bytes())
    with pytest.raises(ValueError, match="different sweep configuration"):
        run_sweep(make_config(SMALL), out, progress=False)
    ds = run_sweep(make_config(SMALL), out, progress=False, fresh=True)
    assert ds.attrs["complete"] == 1


def test_plot(small_result, tmp_path, capsys):
    out, _ = small_result
    png = tmp_path / "fig4.png"
    assert _cli.main(["plot", out, "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert _cli.main(["plot", out, "--out", str(tmp_path / "n.png"), "--y", "nflux"]) == 0


def test_plot_of_a_dataset_that_is_not_a_sweep_is_a_one_line_error(tmp_path, capsys):
    sim = tmp_path / "sim.nc"
    xr.Dataset({"temperatures": (("particle",), np.ones(3)), "flux_left": ((), 0.1)}).to_netcdf(
        sim, engine=netcdf_engine())
    assert _cli.main(["plot", str(sim), "--out", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "simulate" in err and "sweep" in err
    other = tmp_path / "other.nc"
    xr.Dataset({"x": (("i",), np.ones(2))}).to_netcdf(other, engine=netcdf_engine())
    assert _cli.main(["plot", str(other), "--out", str(tmp_path / "f.png")]) == 2
    assert "not a sweep result" in capsys.readouterr().err
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    assert _cli.main(["plot", str(junk), "--out", str(tmp_path / "f.png")]) == 2
    assert "not a readable netCDF" in capsys.readouterr().err
    assert not list(tmp_path.glob("f.png*"))


def test_fit_over_two_sizes_says_why_its_uncertainty_is_undefined(small_result):
    _, ds = small_result
    two = _dataset.add_fits(ds.copy(), min_n=5)  # sizes 6 and 9
    assert (two["fit_points"].values == 2).all() and np.isnan(two["alpha_stderr"].values).all()
    text = _report.format_exponents(two)
    assert "nan" not in text and "± undefined (2 sizes)" in text
    assert "needs at least 3 sizes" in text
    one = _report.format_exponents(_dataset.add_fits(ds.copy(), min_n=7))
    assert "α undefined" in one and "nan" not in one
    assert "undefined" not in _report.format_exponents(ds)  # 3 sizes: a number


def test_flux_delta_too_large_names_delta(capsys):
    assert _cli.main(["flux", "--n", "5", "--delta", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("meanfield-jax: error: --delta") and err.count("\n") == 1
    assert _cli.main(["flux", "--n", "5", "--masses", "graded", "--m", "-1"]) == 2
    assert "--m:" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["random", "alternating", "graded", "identical"])
def test_cli_flux_draws_the_masses_of_sweep_realization_0(small_result, kind, capsys):
    """``meanfield-jax flux --masses KIND --seed S`` computes the chain of realization 0 of a
    sweep with seed S (one home: masses.from_kind + realization_key), so the same J."""
    out, ds = small_result
    argv = ["flux", "--n", "6", "--masses", kind, "--seed", str(SMALL["seed"]), "--k0", "0.02",
            "--k", "0.1", "--n-tilde", "kac", "--method", "lyapunov", "--no-compile-cache"]
    assert _cli.main(argv) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("J "))
    flux = float(line.split()[1])
    ref = float(ds["flux"].sel(masses=kind, k0=0.02, n_tilde="kac", N=6, realization=0))
    assert flux == pytest.approx(ref, rel=1e-12)
    np.testing.assert_array_equal(
        _cli.flux_masses(kind, 6, m=1.0, delta=0.1, seed=SMALL["seed"]),
        np.asarray(ms.from_kind(kind, 6, seed=SMALL["seed"], realization=0)))


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_get_the_permissions_of_user_files(tmp_path, umask):
    from meanfield_jax import _io

    old = os.umask(umask)
    try:
        assert _io.default_file_mode() == 0o666 & ~umask
        _io.atomic_write_bytes(tmp_path / "a.npz", b"x")
        plain = tmp_path / "plain"
        plain.write_bytes(b"x")  # what any program the user runs would create
    finally:
        os.umask(old)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_sweep_result_and_figure_are_not_private(small_result, tmp_path):
    out, _ = small_result
    mode = 0o666 & ~_umask()
    assert os.stat(out).st_mode & 0o777 == mode  # netCDF (was 0600)
    png = tmp_path / "f.png"
    assert _cli.main(["plot", out, "--out", str(png)]) == 0
    assert png.stat().st_mode & 0o777 == mode


def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


# ----------------------------------------------------------------------------- subprocesses


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("long") / "ref.nc")
    run_sweep(make_config(LONG), out, progress=False)
    return _load(out)


@pytest.mark.slow  # ~20 s of subprocess runs; in-process interruption and resume stays default
def test_killed_sweeps_resume_to_the_same_dataset(tmp_path, cache_dir, long_reference):
    """SIGKILL / SIGINT / SIGTERM at random moments, rerun the same command until it ends."""
    config = _write_toml(tmp_path / "long.toml", LONG)
    out = tmp_path / "long.nc"
    cmd = _cli_cmd("sweep", config, "--out", str(out), "--no-progress")
    env = _env(cache_dir)
    rng = random.Random(1234)
    signals = [signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGTERM, signal.SIGKILL]
    interrupted, resumed = 0, False
    for attempt in range(12):
        before = _mtime(str(out) + ".partial.npz")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if attempt < len(signals):
            try:  # signal once this process has written a checkpoint (the sweep loop runs)
                deadline = time.time() + 30
                while (time.time() < deadline and proc.poll() is None
                       and _mtime(str(out) + ".partial.npz") == before):
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.5))
                if proc.poll() is None:
                    proc.send_signal(signals[attempt])
                    interrupted += 1
            finally:
                stdout, stderr = proc.communicate(timeout=120)
            if signals[attempt] != signal.SIGKILL and proc.returncode not in (0,):
                assert proc.returncode == 128 + signals[attempt], stderr[-2000:]
                assert "resume" in stderr.splitlines()[-1] and "Traceback" not in stderr
        else:
            stdout, stderr = proc.communicate(timeout=120)
        resumed |= "resuming:" in stderr
        if proc.returncode != 0:
            # an interrupt waits for a write in progress: a result file, if any, is complete
            assert not out.exists() or _load(out).attrs["complete"] == 1
        else:
            break
    assert proc.returncode == 0, stderr[-3000:]
    assert interrupted >= 3 and resumed
    assert not os.path.exists(str(out) + ".partial.npz")
    _assert_same_results(_load(out), long_reference)
    assert "fitted exponents" in stdout


def test_signals_during_startup_and_cold_compilation_exit_cleanly(tmp_path, long_reference):
    """SIGINT / SIGTERM at a random moment of start-up, compilation or a first cold-cache
    write: exit 130 / 143 at once, one line, no traceback, a valid checkpoint; resuming
    gives the reference dataset bit for bit. (The full campaign, 20 random interrupts per
    command and cache state: scripts/interrupt_campaign.py, test_interrupt_campaign.)"""
    config = _write_toml(tmp_path / "long.toml", LONG)
    out = tmp_path / "long.nc"
    cmd = _cli_cmd("sweep", config, "--out", str(out), "--no-progress")
    rng = random.Random(7)
    for attempt, sig in enumerate((signal.SIGINT, signal.SIGTERM)):
        cache = str(tmp_path / f"cold-cache-{attempt}")  # empty: everything compiles
        env = dict(_env(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(rng.uniform(0.05, 2.0))
        proc.send_signal(sig)
        start = time.perf_counter()
        _, stderr = proc.communicate(timeout=60)
        assert time.perf_counter() - start < 5  # prompt, even inside XLA
        assert proc.returncode == 128 + sig, stderr[-2000:]
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1].startswith("meanfield-jax: ")
        assert "interrupted" in stderr.strip().splitlines()[-1]
        assert not list(tmp_path.glob("*.tmp")) and not out.exists()
        for path in tmp_path.glob("long.nc.partial*.npz"):
            np.load(path)["done"]  # a complete checkpoint
    proc = subprocess.run(cmd, env=_env(str(tmp_path / "cold-cache-0")), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_results(_load(out), long_reference)


@pytest.mark.slow
def test_interrupt_campaign(tmp_path):
    """20 random-moment SIGINT / SIGTERM per command (sweep, simulate) and cache state (cold,
    warm): all exit cleanly and resume bit-identically (about 25 minutes on 2 cores)."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "interrupt_campaign.py"),
                           "--tries", "20", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=4 * 3600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # 13 s; four-device ensembles stay default (test_ensemble)
def test_two_distributed_processes(tmp_path, cache_dir, long_reference):
    """Two local jax.distributed processes (2 CPU devices each) give the single-run dataset."""
    config = _write_toml(tmp_path / "long.toml", LONG)
    out = tmp_path / "dist.nc"
    port = _free_port()
    procs = [subprocess.Popen(
        _cli_cmd("sweep", config, "--out", str(out), "--no-progress",
                 "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                 "--process-id", str(i)),
        env=_env(cache_dir, devices=2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in range(2)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (so, se) in zip(procs, outputs):
        assert p.returncode == 0, se[-3000:]
    assert "fitted exponents" in outputs[0][0]
    ds = _load(out)
    assert ds.attrs["process_count"] == 2
    assert "p1:" in ds.attrs["devices"]
    _assert_same_results(ds, long_reference)
    assert not list(tmp_path.glob("dist.nc.partial*"))


@pytest.mark.slow  # ~40 s of subprocess runs on 2 cores
def test_distributed_process_killed_and_resumed(tmp_path, cache_dir, long_reference):
    """One of two jax.distributed processes dies (SIGKILL) mid-run, the other is then
    terminated (SLURM's --kill-on-bad-exit); rerunning the same two commands resumes from
    both processes' checkpoints and gives the single-run dataset, bit for bit."""
    config = _write_toml(tmp_path / "long.toml", LONG)
    out = tmp_path / "dist.nc"

    def start(port):
        return [subprocess.Popen(
            _cli_cmd("sweep", config, "--out", str(out), "--no-progress",
                     "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                     "--process-id", str(i)),
            env=_env(cache_dir, devices=1), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True) for i in range(2)]

    procs = start(_free_port())
    p1_checkpoint = str(out) + ".partial.p1.npz"
    try:  # kill process 1 once it has checkpointed some chunks, before the end
        deadline = time.time() + 120
        while time.time() < deadline and procs[1].poll() is None:
            if os.path.exists(p1_checkpoint):
                break
            time.sleep(0.02)
        assert procs[1].poll() is None, "process 1 ended before it could be killed"
        time.sleep(0.3)
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(timeout=60)
        time.sleep(0.5)
        if procs[0].poll() is None:
            procs[0].send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[1].returncode == -signal.SIGKILL
    assert procs[0].returncode != 0, "process 0 finished although process 1 was killed"
    assert "Traceback" not in outputs[0][1], outputs[0][1][-3000:]
    assert not out.exists()
    assert os.path.exists(p1_checkpoint)

    procs = start(_free_port())  # the same two commands again
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (_, stderr) in zip(procs, outputs):
        assert p.returncode == 0, stderr[-3000:]
        assert "resuming:" in stderr  # every process sees both checkpoints
    _assert_same_results(_load(out), long_reference)
    assert not list(tmp_path.glob("dist.nc.partial*"))


@pytest.mark.slow  # 9 s; four-device ensembles stay default (test_ensemble)
def test_four_devices_sweep_identical(tmp_path, cache_dir, long_reference):
    out = tmp_path / "four.nc"
    config = _write_toml(tmp_path / "long.toml", LONG)
    proc = subprocess.run(_cli_cmd("sweep", config, "--out", str(out), "--no-progress"),
                          env=_env(cache_dir, devices=4), capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ds = _load(out)
    # four CPU devices (their names differ between JAX versions: "cpu:0" / "TFRT_CPU_0")
    devices = ds.attrs["devices"]
    assert len(devices.split(", ")) == 4 and devices.lower().count("cpu") == 4
    _assert_same_results(ds, long_reference)


def test_toml_parses_as_documented():
    with open(os.path.join(ROOT, "configs", "fig4.toml"), "rb") as fh:
        raw = tomllib.load(fh)
    assert raw["n_tilde"] == ["kac", 1]


# ----------------------------------------------------------------------------- network models

# Lyapunov (quick to compile, as SMALL) for the machinery; one size with the default residue
# method (the secular solver of networks) in test_random_springs_and_nearest_neighbour_sweeps
NETWORK = dict(sizes=[4, 6], masses=["identical", "random"], k0=[0.02], n_tilde=["kac", 1],
               realizations=2, seed=7, chunk_size=4, fit_min_n=0, method="lyapunov")


def test_mean_field_config_keeps_its_hash_and_keys():
    """The model keys are absent from a mean-field sweep's hash and attributes, so sweeps
    and checkpoints written before networks existed stay valid (the default sweep's
    dataset is unchanged, bit for bit: checked against main before the change)."""
    cfg = make_config(SMALL)
    assert cfg.model == "mean_field" and "model" not in cfg.to_dict()
    assert "alpha" not in cfg.physics()
    assert make_config({**SMALL, "model": "mean_field"}).config_hash() == cfg.config_hash()
    pl = make_config({**SMALL, "model": "power_law", "alpha": [2, "inf", 0]})
    assert pl.alpha == (0.0, 2.0, np.inf) and pl.config_hash() != cfg.config_hash()


@pytest.fixture(scope="module")
def power_law_result(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pl") / "pl.nc")
    cfg = make_config({**NETWORK, "model": "power_law", "alpha": [0, 2]})
    return out, cfg, run_sweep(cfg, out, progress=False)


def test_power_law_sweep_layout_and_values(power_law_result):
    import meanfield_jax as mf
    from meanfield_jax import networks

    out, cfg, ds_mem = power_law_result
    ds = _load(out)
    _assert_same_results(ds, ds_mem)
    assert ds.attrs["model"] == "power_law"
    assert ds["flux"].dims == ("masses", "coupling_alpha", "k0", "n_tilde", "N", "realization")
    np.testing.assert_array_equal(ds["coupling_alpha"], [0.0, 2.0])
    assert "flux_asymptotic" not in ds and ds["alpha"].dims == ("masses", "coupling_alpha",
                                                               "k0", "n_tilde")
    assert ds["converged"].values[np.isfinite(ds["flux"].values)].all()
    for kind, r in (("identical", 0), ("random", 1)):
        m = ms.from_kind(kind, 6, seed=7, realization=r)
        for nt in ("kac", 1.0):
            net = networks.power_law(m, 2.0, k=0.1, k0=0.02, n_tilde=nt)
            got = ds["flux"].sel(masses=kind, coupling_alpha=2.0, k0=0.02,
                                 n_tilde=_dataset_nt(nt), N=6, realization=r)
            np.testing.assert_allclose(float(got), float(mf.heat_flux(net, method="lyapunov")),
                                       rtol=1e-12)
    # α = 0 with the Kac factor is the mean-field chain (Ñ = N − 1); 1e-9: two stiffness
    # matrices built differently
    chain = make_config({**NETWORK, "n_tilde": ["kac"]})
    ref = run_sweep(chain, out + ".mf.nc", progress=False)
    np.testing.assert_allclose(ds["flux"].sel(coupling_alpha=0.0, n_tilde="kac").values,
                               ref["flux"].sel(n_tilde="kac").values, rtol=1e-9)
    assert "α_k = 2" in _report.format_exponents(ds)


def _dataset_nt(nt):
    return "kac" if isinstance(nt, str) else f"{nt:g}"


def test_power_law_sweep_resumes(power_law_result, tmp_path, monkeypatch):
    _, cfg, ref = power_law_result
    out = str(tmp_path / "r.nc")
    real = _interrupt_after_checkpoint(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, out, progress=False)
    monkeypatch.setattr(_sweep, "atomic_write_bytes", real)
    messages = []
    ds = run_sweep(cfg, out, progress=False, log=messages.append)
    assert any("resuming: 8 of" in m for m in messages)
    _assert_same_results(ds, ref)
    with pytest.raises(ValueError, match="different sweep configuration"):
        _sweep.atomic_write_bytes(out + ".partial.npz", _io.TaskResults(3, "0" * 16).to_bytes())
        run_sweep(cfg, out, progress=False)


def test_random_springs_and_nearest_neighbour_sweeps(tmp_path):
    """Default method: the secular normal-mode solver of networks, through the sweep."""
    import meanfield_jax as mf
    from meanfield_jax import networks

    base = {**NETWORK, "sizes": [6], "method": "residues"}
    cfg = make_config({**base, "model": "random_springs", "n_tilde": [1]})
    ds = run_sweep(cfg, str(tmp_path / "rs.nc"), progress=False)
    assert ds.attrs["model"] == "random_springs" and "coupling_alpha" not in ds.dims
    # random springs: every mass configuration has realizations
    np.testing.assert_array_equal(ds["n_realizations"], [[2], [2]])
    assert np.isfinite(ds["flux"].values).all() and ds["converged"].values.all()
    for kind in ("identical", "random"):
        m = ms.from_kind(kind, 6, seed=7, realization=1)
        net = networks.random_springs(ms.realization_key(7, 6, 1), m, k=0.1, k0=0.02,
                                      n_tilde=1.0)
        got = ds["flux"].sel(masses=kind, k0=0.02, n_tilde="1", N=6, realization=1)
        ref = mf.heat_flux(net, method="lyapunov")  # independent solver: 1e-9
        np.testing.assert_allclose(float(got), float(ref), rtol=1e-9)

    cfg = make_config({**base, "model": "nearest_neighbour", "masses": ["random"],
                       "n_tilde": ["kac"]})
    ds = run_sweep(cfg, str(tmp_path / "nn.nc"), progress=False)
    assert ds["converged"].values.all()
    m = ms.from_kind("random", 6, seed=7, realization=1)
    net = networks.power_law(m, np.inf, k=0.1, k0=0.02, n_tilde="kac")  # Ñ = 2(N − 1)/N
    got = ds["flux"].sel(masses="random", N=6, realization=1).values.ravel()[0]
    np.testing.assert_allclose(got, float(mf.heat_flux(net, method="lyapunov")), rtol=1e-9)


def test_network_sweep_pads_sizes_of_one_step_bucket(tmp_path):
    """Network sizes sharing a step bucket (4, 5, 6: bucket 16) run padded to the largest,
    one program; the fluxes equal the single networks' (exact-N programs) to 1e-13."""
    import meanfield_jax as mf
    from meanfield_jax import networks
    from meanfield_jax._sweep import plan_tasks

    cfg = make_config({**NETWORK, "sizes": [4, 5, 6], "method": "residues",
                       "model": "nearest_neighbour", "masses": ["random"], "n_tilde": [1]})
    assert plan_tasks(cfg).padded == (6, 6, 6)
    ds = run_sweep(cfg, str(tmp_path / "nn.nc"), progress=False)
    assert ds["converged"].values.all()
    for n in (4, 5):
        m = ms.from_kind("random", n, seed=7, realization=1)
        net = networks.nearest_neighbour(m, k=0.1, k0=0.02)
        got = ds["flux"].sel(masses="random", N=n, realization=1).values.ravel()[0]
        np.testing.assert_allclose(got, float(mf.heat_flux(net)), rtol=1e-13)


def test_ordered_nearest_neighbour_sweep_is_exact(tmp_path):
    cfg = make_config({**NETWORK, "sizes": [6], "method": "residues", "masses": ["identical"],
                       "model": "nearest_neighbour", "k0": [0.0], "n_tilde": [1]})
    ds = run_sweep(cfg, str(tmp_path / "nn.nc"), progress=False)
    # ordered, free ends: J = kγΔT / (2(km + γ²)) at every N
    np.testing.assert_allclose(ds["flux_mean"].values.ravel(), 0.1 / (2 * (0.1 + 1.0)),
                               rtol=1e-10)


def test_network_sweep_cannot_draw_fig4(power_law_result, tmp_path):
    _, _, ds = power_law_result
    with pytest.raises(ValueError, match="power_law"):
        _plot_fig4(ds, str(tmp_path / "x.png"))


def _plot_fig4(ds, path):
    from meanfield_jax._plot import plot_fig4

    return plot_fig4(ds, path)
