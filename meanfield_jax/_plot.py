"""Fig. 4 of PRE 105, 054149 from a sweep dataset: J against N, log-log.

Main panel Ñ = N − 1 (Kac), inset Ñ = 1. Symbols: the exact fluxes of the sweep (mean over
realizations, error bars = standard error) for each mass configuration (identical ○,
graded □, random △, alternating ◇); colours: k0 = 0 small dark purple, k0 > 0 large light
orange, as in the paper. Solid lines: the large-N predictions, Eq. 25 (k0 = 0 or Ñ = 1) and
Eq. 30 (Kac with k0 > 0), from ``flux_asymptotic`` in the dataset.

Cost: O(number of points). The figure is a :class:`matplotlib.figure.Figure` with its own Agg
canvas: nothing global changes (no ``matplotlib.use``, no pyplot figure registry), so a
notebook's backend and open figures are left alone.
"""

from __future__ import annotations

import os

import numpy as np

from ._io import atomic_write

__all__ = ["plot_fig4", "plot_conductance"]

_MARKERS = {"identical": "o", "graded": "s", "random": "^", "alternating": "D"}
_COLORS = ["#3b0f70", "#f4a261", "#2a9d8f", "#e76f51", "#264653"]
_SIZES = [4, 8, 6, 6, 6]


def _draw(ax, ds, n_tilde, y):
    sizes = ds["N"].values.astype(float)
    dt = float(ds.attrs.get("t_left", 1.0)) - float(ds.attrs.get("t_right", 0.0))
    scale = sizes / dt if y == "nflux" else np.ones_like(sizes)
    for i, k0 in enumerate(ds["k0"].values):
        color = _COLORS[i % len(_COLORS)]
        ms = _SIZES[i % len(_SIZES)]
        asym = ds["flux_asymptotic"].sel(k0=k0, n_tilde=n_tilde).values
        eq = "Eq. 25" if (k0 == 0 or n_tilde != "kac") else "Eq. 30"
        ax.plot(sizes, asym * scale, "-", color=color, lw=1.2, zorder=1,
                label=f"{eq}, k0 = {k0:g}")
        for kind in ds["masses"].values:
            sel = dict(masses=kind, k0=k0, n_tilde=n_tilde)
            mean = ds["flux_mean"].sel(sel).values * scale
            err = ds["flux_stderr"].sel(sel).values * scale
            ax.errorbar(sizes, mean, yerr=np.where(err > 0, err, np.nan),
                        fmt=_MARKERS.get(str(kind), "x"), ms=ms, mfc="none", mec=color,
                        ecolor=color, color=color, lw=0.8, zorder=2,
                        label=f"{kind}, k0 = {k0:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")


_SWEEP_VARIABLES = ("flux_mean", "flux_stderr", "flux_asymptotic", "masses", "k0", "n_tilde",
                    "N")


def _check_sweep_dataset(ds) -> None:
    model = ds.attrs.get("model", "mean_field")
    if model != "mean_field":
        raise ValueError(f"the dataset is a sweep of model = {model!r}; Fig. 4 is drawn for "
                         "mean-field sweeps (scripts/alpha_figure.py plots networks)")
    missing = [name for name in _SWEEP_VARIABLES if name not in ds.variables]
    if not missing:
        return
    what = ("is a 'meanfield-jax simulate' result" if "temperatures" in ds.variables
            else f"is not a sweep result (no {', '.join(missing)})")
    raise ValueError(f"the dataset {what}; Fig. 4 needs a file written by "
                     "'meanfield-jax sweep'")


def plot_fig4(ds, path: str | None = None, *, y: str = "flux"):
    """Draw Fig. 4 from a sweep dataset; save it to ``path`` if given.

    Args:
      ds: dataset written by ``meanfield-jax sweep`` (needs ``n_tilde`` ``"kac"`` for the main
        panel; ``"1"`` adds the inset).
      path: image file to write (format from the extension), or None.
      y: ``"flux"`` for J (the paper's axis) or ``"nflux"`` for N·J/ΔT.

    Returns:
      the :class:`matplotlib.figure.Figure` (not registered with pyplot; in a notebook,
      display it by making it the cell's value).

    Raises:
      ValueError: if ``ds`` is not a sweep dataset (e.g. a simulation result), or for a bad
        ``y`` or image format.

    A dataset with the sweep's variables, filled from the closed form (``run_sweep``
    writes such datasets; its example runs one):

    >>> import numpy as np, xarray as xr
    >>> import meanfield_jax as mf
    >>> n = np.array([4, 8, 16])
    >>> j = np.asarray(mf.analytic.flux_identical_exact(n, 1.0, 0.1, 0.0, "kac", 1.0))
    >>> dims = ("masses", "k0", "n_tilde", "N")
    >>> ds = xr.Dataset({"flux_mean": (dims, j.reshape(1, 1, 1, 3)),
    ...                  "flux_stderr": (dims, np.zeros((1, 1, 1, 3))),
    ...                  "flux_asymptotic": (dims[1:], (0.5 / n).reshape(1, 1, 3))},  # Eq. 25
    ...                 coords={"masses": ["identical"], "k0": [0.0], "n_tilde": ["kac"], "N": n})
    >>> fig = mf.plot_fig4(ds, y="nflux")
    >>> len(fig.axes)
    1
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if y not in ("flux", "nflux"):
        raise ValueError(f"y must be 'flux' or 'nflux', got {y!r}")
    _check_sweep_dataset(ds)
    labels = [str(x) for x in ds["n_tilde"].values]
    main = "kac" if "kac" in labels else labels[0]
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    FigureCanvasAgg(fig)  # its own canvas: savefig needs no pyplot and no global backend
    ax = fig.subplots()
    _draw(ax, ds, main, y)
    ax.set_xlabel("N")
    ax.set_ylabel("J" if y == "flux" else "N J / ΔT")
    title = "Ñ = N − 1" if main == "kac" else f"Ñ = {main}"
    ax.set_title(f"{title}; k = {ds.attrs.get('k', '?')}, γ = {ds.attrs.get('gamma', '?')}, "
                 f"δ = {ds.attrs.get('delta', '?')}", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="lower left", frameon=False)
    if "1" in labels and main != "1":
        inset = ax.inset_axes([0.6, 0.6, 0.37, 0.37])
        _draw(inset, ds, "1", y)
        inset.set_title("Ñ = 1", fontsize=8)
        inset.tick_params(labelsize=6)
    if path is not None:
        fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or None
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=150, format=fmt))
    return fig


def plot_conductance(ds, path: str | None = None):
    """κ/κ₀ against T, log-log, from :func:`meanfield_jax._dataset.conductance_dataset`
    (κ₀ = πT/(6ħ); non-converged points hollow). Written atomically to ``path`` (format
    from its suffix) when given; returns the Figure (its own Agg canvas, as
    :func:`plot_fig4`). O(number of temperatures)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    t = ds["temperature"].values
    ratio = ds["kappa_over_kappa0"].values
    ok = ds["converged"].values.astype(bool)
    ax.loglog(t, ratio, "-", color=_COLORS[0], lw=1.2)
    ax.loglog(t[ok], ratio[ok], "o", color=_COLORS[0], ms=3, label="converged")
    if not np.all(ok):
        ax.loglog(t[~ok], ratio[~ok], "o", mfc="none", color=_COLORS[1], ms=4,
                  label="not converged")
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("T")
    ax.set_ylabel(r"$\kappa/\kappa_0$,  $\kappa_0 = \pi T/(6\hbar)$")
    ax.set_title(f"thermal conductance, hbar = {ds.attrs.get('hbar', float('nan')):g}")
    ax.legend(fontsize=8)
    if path is not None:
        fmt = os.path.splitext(path)[1].lstrip(".") or "png"
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=150, format=fmt))
    return fig
