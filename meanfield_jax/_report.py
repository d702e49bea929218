"""Plain-text reports of pipeline results for the terminal: fitted exponents, simulated vs exact.

O(size of the result).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["format_exponents", "simulation_report"]


def format_exponents(ds) -> str:
    """One line per curve: masses, (α_k of a power-law network,) k0, Ñ, α ± δα and the
    fitted size range.

    δα needs at least 3 sizes in the fit range (a line through 2 points leaves no residuals
    to estimate it): with 2 the line says "± undefined" and a note says why; with fewer, α
    itself is undefined.
    """
    sizes = [int(x) for x in np.atleast_1d(ds.attrs["fit_sizes"])]
    lines = [f"fitted exponents, J ∝ N^-α (least squares over N in "
             f"[{ds.attrs['fit_min_n']:g}, {ds.attrs['fit_max_n']}], sizes {sizes}):"]
    short = False
    alphas = ds["coupling_alpha"].values if "coupling_alpha" in ds.dims else [None]
    for kind in ds["masses"].values:
        for coupling in alphas:
            for k0 in ds["k0"].values:
                for nt in ds["n_tilde"].values:
                    sel = dict(masses=kind, k0=k0, n_tilde=nt)
                    head = f"  {kind:<11s} "
                    if coupling is not None:
                        sel["coupling_alpha"] = coupling
                        head += f"α_k = {coupling:<4g} "
                    label = ("N-1" if ds.attrs.get("model", "mean_field") == "mean_field"
                             else "Kac") if nt == "kac" else nt
                    head += f"k0 = {k0:<5g} Ñ = {label:<4s} "
                    short |= _exponent_line(ds, sel, head, lines)
    if short:
        lines.append("  note: the uncertainty of α needs at least 3 sizes in the fit range (a "
                     "line through 2 points has no residuals); add sizes or widen "
                     "fit_min_n / fit_max_n")
    return "\n".join(lines)


def _exponent_line(ds, sel, head, lines) -> bool:
    """Append the fit of one curve; True if it has fewer than 3 sizes."""
    a = float(ds["alpha"].sel(sel))
    da = float(ds["alpha_stderr"].sel(sel))
    points = int(ds["fit_points"].sel(sel))
    if points < 2:
        lines.append(head + f"α undefined ({points} usable size in the fit range; "
                            "a fit needs 2)")
        return True
    if points < 3 or not math.isfinite(da):
        lines.append(head + f"α = {a:.4f} ± undefined (2 sizes)   |α − 1| = {abs(a - 1):.4f}")
        return True
    lines.append(head + f"α = {a:.4f} ± {da:.4f}   |α − 1| = {abs(a - 1):.4f}")
    return False


def simulation_report(result, exact_flux, exact_temps, reason, out, wall_note) -> str:
    """The lines the ``simulate`` command prints: J_left, J_right and T_n (± standard
    errors) of a :class:`LangevinResult` next to the exact values where given."""
    lines = [f"wrote {out} ({result.n_trajectories} trajectories × {result.n_steps} steps of "
             f"dt = {result.dt:g}, burn-in {result.burn_in}; {wall_note})"]
    ex = "" if exact_flux is None else f"   exact J = {exact_flux:.6e} (Eq. 16)"
    lines.append(f"J_left  = {result.flux_left:.6e} ± {result.flux_left_stderr:.1e}"
                 f"  (left bath → chain){ex}")
    lines.append(f"J_right = {result.flux_right:.6e} ± {result.flux_right_stderr:.1e}"
                 "  (chain → right bath)")
    if reason:
        lines.append(f"exact J, T_n: {reason}")
    t, dt_err = np.asarray(result.temperatures), np.asarray(result.temperatures_stderr)
    head = f"{'n':>5}   {'T_n simulated ± stderr':<22}" + (
        "" if exact_temps is None else "   exact (Eq. 31)  (sim − exact)/σ")
    lines.append(head)
    n = t.size
    show = range(n) if n <= 16 else [*range(4), None, *range(n - 4, n)]
    for i in show:
        if i is None:
            lines.append("  ...")
            continue
        row = f"{i + 1:5d}   {t[i]:.6e} ± {dt_err[i]:.1e}"
        if exact_temps is not None:
            z = (t[i] - exact_temps[i]) / dt_err[i] if dt_err[i] > 0 else float("nan")
            row += f"   {exact_temps[i]:.6e}      {z:+.1f}"
        lines.append(row)
    if result.positions_sq is not None:
        what = "<cos θ_n>" if result.nonlinearity == "rotors" else "<q_n²>"
        q2, e = np.asarray(result.positions_sq), np.asarray(result.energies)
        lines.append(f"{what} and energy profile <e_n>: " + ", ".join(
            f"{q2[i]:.4g}/{e[i]:.4g}" for i in (range(n) if n <= 8 else [0, n // 2, n - 1])))
    if result.magnetisation is not None:
        lines.append(f"magnetisation <|m|> = {result.magnetisation:.4e} ± "
                     f"{result.magnetisation_stderr:.1e}, <|m|²> = {result.magnetisation_sq:.4e}"
                     f" ± {result.magnetisation_sq_stderr:.1e}")
    if exact_temps is not None:
        masses = np.asarray(result.masses)
        lines.append("(simulated values carry an O(dt²) time-step bias and, from a "
                     "non-stationary start, a burn-in bias)")
        if np.all(masses == masses[0]) and n > 3 and result.initial != "rest":
            lines.append("(identical masses: N − 3 modes never couple to the baths; they keep "
                         "their initial energy, so T_n differ from the exact particular "
                         "solution, which a start from rest reproduces)")
    return "\n".join(lines)
