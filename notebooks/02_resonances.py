# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Resonances: Figs. 2–3, $\omega_c$ (Eq. 26) and Lorentzian widths (Eqs. 24, 28–29)
#
# For identical masses the transmittance is a rational function of $\omega$ (Eqs. 20–22).
# Its large-$N$ shape is what makes $J\propto 1/N$ (PRE 105, 054149, Sec. III A):
#
# * momentum conserving ($k_0=0$): one Lorentzian at $\omega=0$ (Eq. 24),
#   $\mathcal T\simeq 1/[1+N^2(m/2\gamma)^2\omega^2]$, half width $2\gamma/(Nm)$;
# * pinned ($k_0>0$): two Lorentzians at $\pm\omega_c$ (Eq. 28),
#   $\mathcal T\simeq\sum_{\Omega=\pm\omega_c}1/[1+N^2\mathcal A^2(\omega-\Omega)^2]$, with
#   $\mathcal A=\frac m\gamma(1+\omega_0^2\gamma^2/k^2)$ for $\tilde N=N-1$ and $m/\gamma$ for
#   $\tilde N=1$ (Eq. 29), and
#   $\omega_c=\omega_0+\frac{\omega_0}{N}\frac{k\gamma^2/m}{k^2+\omega_0^2\gamma^2}+O(N^{-2})$
#   (Kac) or $\omega_0+O(N^{-2})$ ($\tilde N=1$), $\omega_0=\sqrt{k_0/m}$ (Eq. 26);
# * far above the bulk band, $\mathcal T\sim 1/(\omega^6\tilde N^2)$ (Fig. 2 insets).
#
# Here we redraw Figs. 2 and 3 with the exact $O(N)$ transmittance, locate $\omega_c$ by
# Newton's method on autodiff derivatives, and measure the widths by least-squares
# Lorentzian fits with optax, all checked against the closed forms. $m=k=\gamma=1$.

# %%
import json
import os
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

import meanfield_jax as mf
from meanfield_jax import analytic as an

if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):   # reuse compiled programs across runs
    jax.config.update("jax_compilation_cache_dir",
                      os.path.expanduser("~/.cache/meanfield_jax/xla"))
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})
notebook_start = time.perf_counter()

# %% [markdown]
# The closed forms and the two resonance/fit entry points of the package are called only
# through these wrappers (one place to update if a signature changes).

# %%
def closed_T(omega, n, k0, n_tilde):
    """Eqs. 20-23, m = k = gamma = 1."""
    return an.transmittance_identical(omega=omega, n=n, m=1.0, k=1.0, k0=k0, n_tilde=n_tilde,
                                      gamma=1.0)


def eq26_omega_c(n, k0, kac):
    return an.omega_c_asymptotic(n, 1.0, 1.0, k0, "kac" if kac else 1, 1.0)


def eq29_A(k0, kac):
    return an.amplitude_A(1.0, 1.0, k0, "kac" if kac else 1, 1.0)


def peak(chain, guess):
    """(omega_c, T(omega_c)): Newton on dT/domega with jax derivatives (package)."""
    return mf.resonance_frequency(chain, guess)


def lorentzian_fit(omega, t, n):
    """optax L-BFGS fit of height / (1 + ((omega - center) / hwhm)^2); returns the fit."""
    return mf.fit_lorentzian_curve(omega, t, n=n)


def chain(n, k0, kac):
    return mf.MeanFieldChain(mf.masses.identical(n), k=1.0, k0=k0,
                             n_tilde="kac" if kac else 1.0, gamma=1.0)


# %% [markdown]
# ## Figs. 2 and 3
#
# Rows: $k_0=0$ (Fig. 2) and $k_0=1$ (Fig. 3); columns: $\tilde N=N-1$ and $\tilde N=1$;
# $N=10,20,50,100,200$ from light to dark. Dashed: Eq. 24 / Eq. 28 for $N=200$; dotted: the
# $\omega^{-6}$ tail. (Log axes show the peak, the band and the tail in one panel.)

# %%
SIZES = (10, 20, 50, 100, 200)
omega = np.geomspace(1e-4, 3e2, 4000)
fig, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True, sharey=True)
colors = plt.cm.viridis(np.linspace(0.85, 0.05, len(SIZES)))
worst_T = 0.0
tail_slopes = {}
for row, k0 in enumerate((0.0, 1.0)):
    for col, kac in enumerate((True, False)):
        ax = axes[row, col]
        for n, c in zip(SIZES, colors):
            nt = n - 1.0 if kac else 1.0
            t = np.asarray(mf.transmittance(chain(n, k0, kac), omega))
            t_closed = np.asarray(closed_T(omega, n, k0, nt))
            worst_T = max(worst_T, float(np.max(np.abs(t - t_closed) / (1e-300 + t_closed))))
            ax.loglog(omega, t, color=c, lw=1, label=f"N={n}")
            tail_slopes[(k0, kac, n)] = float(np.polyfit(np.log(omega[-200:]),
                                                         np.log(t[-200:]), 1)[0])
        n = SIZES[-1]
        model = (an.lorentzian_k0_zero(omega, n, 1.0, 1.0) if k0 == 0
                 else an.lorentzian_pinned(omega, n, 1.0, 1.0, k0, "kac" if kac else 1, 1.0))
        ax.loglog(omega, np.asarray(model), "k--", lw=0.8, label="Eq. 24" if k0 == 0 else "Eq. 28")
        nt = n - 1.0 if kac else 1.0
        ax.loglog(omega[-800:], 10.0 / (omega[-800:] ** 6 * nt**2), "k:", lw=1,
                  label=r"$\propto\omega^{-6}\tilde N^{-2}$")
        ax.set_ylim(1e-14, 3)
        ax.set_title(f"Fig. {2 + row}: k0 = {k0:g}, Ñ = {'N-1' if kac else '1'}", fontsize=10)
        if row == 1:
            ax.set_xlabel(r"$\omega$")
        if col == 0:
            ax.set_ylabel(r"$\mathcal{T}(\omega)$")
axes[0, 0].legend(fontsize=7, loc="lower left")
fig.tight_layout()
plt.show()
print(f"max relative |T - closed form (Eqs. 20-23)| over all curves: {worst_T:.1e}")
print("tail slopes d ln T / d ln omega:", sorted({round(s, 3) for s in tail_slopes.values()}))

# %%
assert worst_T < 1e-9
assert all(abs(s + 6) < 0.02 for s in tail_slopes.values())

# %% [markdown]
# ## $\omega_c$ by autodiff against Eq. 26
#
# `resonance_frequency` maximizes $\mathcal T$ by Newton's method on
# $d(1/\mathcal T)/d\omega=0$, with both derivatives from `jax.jvp`. As an independent
# reference we run a plain Newton iteration on the closed form of Eqs. 20–22 with
# `jax.grad`. Eq. 26 says $N(\omega_c-\omega_0)\to\frac{k\gamma^2/m}{k^2+\omega_0^2\gamma^2}
# \omega_0=\tfrac12$ with the Kac factor and $N(\omega_c-\omega_0)\to0$ (as $1/N$) without.

# %%
@jax.jit
def closed_form_peak(n, nt, w):
    u = lambda x: 1.0 / closed_T(x, n, 1.0, nt)          # noqa: E731
    du, d2u = jax.grad(u), jax.grad(jax.grad(u))
    for _ in range(30):                                   # Newton, unrolled
        w = w - du(w) / d2u(w)
    return w


WIDTH_SIZES = np.array([50, 100, 200, 400])
rows = []
for kac in (True, False):
    for n in WIDTH_SIZES:
        nt = n - 1.0 if kac else 1.0
        wc, tmax = peak(chain(int(n), 1.0, kac), 1.0)
        ref = closed_form_peak(float(n), nt, float(eq26_omega_c(n, 1.0, kac)))
        rows.append((kac, int(n), float(wc), float(tmax), float(ref),
                     float(eq26_omega_c(n, 1.0, kac))))
print(" Ñ      N   omega_c (package)   |diff vs closed-form Newton|  N(omega_c-1)  Eq. 26")
for kac, n, wc, tmax, ref, e26 in rows:
    print(f"{'N-1' if kac else '1':>3} {n:6d}  {wc:.15f}  {abs(wc - ref):.1e}   "
          f"{n * (wc - 1):12.8f}  {n * (e26 - 1):.3f}   T(omega_c) = {tmax:.15f}")
wc_kac = np.array([r[2] for r in rows if r[0]])
wc_one = np.array([r[2] for r in rows if not r[0]])

# %%
assert max(abs(r[2] - r[4]) for r in rows) < 1e-12              # two Newton methods agree
assert all(abs(r[3] - 1.0) < 1e-12 for r in rows)               # T(omega_c) = 1
dev = WIDTH_SIZES * (wc_kac - 1) - 0.5                          # Eq. 26: O(1/N)
assert np.all(np.abs(dev) < 2.0 / WIDTH_SIZES) and abs(dev[-2] / dev[-1] - 2) < 0.1
n2_dev = WIDTH_SIZES**2 * (wc_one - 1)                          # Ñ = 1: O(1/N^2)
assert np.all(np.abs(n2_dev) < 1.5) and np.ptp(n2_dev) < 0.01

# %% [markdown]
# The peak position is differentiable too: `resonance_frequency` returns $\omega_c$
# through one implicit-function step, so `jax.grad` gives $d\omega_c/dk_0$ (Eq. 26:
# $d\omega_0/dk_0=1/(2\sqrt{k_0 m})=\tfrac12$ plus $O(1/N)$).

# %%
n = 400
dwc = float(jax.grad(lambda k0: peak(chain(n, 1.0, True).replace(k0=k0), 1.0)[0])(1.0))
h = 1e-6
fd = (float(peak(chain(n, 1.0 + h, True), 1.0)[0])
      - float(peak(chain(n, 1.0 - h, True), 1.0)[0])) / (2 * h)
d_eq26 = float(jax.grad(lambda k0: an.omega_c_asymptotic(n, 1.0, 1.0, k0, "kac", 1.0))(1.0))
print(f"d omega_c / d k0 at N = {n}: autodiff {dwc:.10f}, finite differences {fd:.10f}, "
      f"Eq. 26 {d_eq26:.10f}")

# %%
assert abs(dwc - fd) < 1e-7 and abs(dwc - d_eq26) < 2.0 / n

# %% [markdown]
# ## Lorentzian widths (Eqs. 24, 28–29) and their $1/N$ scaling
#
# Around each main peak we sample the exact $\mathcal T$ on 201 points spanning
# $\pm3$ predicted half widths and fit one Lorentzian with `fit_lorentzian_curve` (optax L-BFGS),
# which reports $\mathcal A_{\rm fit}=1/(N\cdot\mathrm{HWHM})$. The prediction is
# $\mathcal A=m/(2\gamma)$ for $k_0=0$ (Eq. 24) and Eq. 29 for $k_0>0$; the half width
# itself shrinks as $1/N$ (the localization of Sec. III A). Same grid length for every fit:
# one compiled optimizer. The fitted $\mathcal A$ approaches the prediction like $1/N$ with
# the Kac factor and like $1/N^2$ without it (as $\omega_c$ does above).

# %%
cases = [(0.0, True, 0.5), (1.0, True, float(eq29_A(1.0, True))),
         (1.0, False, float(eq29_A(1.0, False)))]
grid = np.linspace(-3.0, 3.0, 201)
fits = {}
for k0, kac, a_pred in cases:
    for n in WIDTH_SIZES:
        c = chain(int(n), k0, kac)
        center = 0.0 if k0 == 0 else float(peak(c, 1.0)[0])
        w = center + grid / (n * a_pred)
        fit = lorentzian_fit(w, np.asarray(mf.transmittance(c, w)), int(n))
        fits[(k0, kac, int(n))] = (float(fit.A), float(fit.hwhm), float(fit.residual))

fig, ax = plt.subplots(figsize=(6, 3.6))
for (k0, kac, a_pred), marker in zip(cases, "osD"):
    a_fit = np.array([fits[(k0, kac, int(n))][0] for n in WIDTH_SIZES])
    label = f"k0={k0:g}, Ñ={'N-1' if kac else '1'}"
    ax.plot(WIDTH_SIZES, a_fit / a_pred, marker + "-", label=label)
    print(f"{label:16s} A_fit = {np.round(a_fit, 5)}, prediction {a_pred:g}")
ax.axhline(1.0, color="k", lw=0.8)
ax.set(xscale="log", xlabel="N", ylabel=r"$\mathcal{A}_{\rm fit}/\mathcal{A}$ (Eqs. 24, 29)")
ax.legend(fontsize=8)
plt.show()

# %%
slopes = {}
for k0, kac, a_pred in cases:
    rel = np.array([fits[(k0, kac, int(n))][0] / a_pred - 1 for n in WIDTH_SIZES])
    slope = np.polyfit(np.log(WIDTH_SIZES), np.log(np.abs(rel)), 1)[0]
    assert abs(rel[-1]) < 0.02, (k0, kac, rel)                  # Eqs. 24/29 at N = 400
    assert slope < -0.85, (k0, kac, slope)                       # corrections O(1/N) or faster
    slopes[(k0, kac)] = slope
    assert all(fits[(k0, kac, int(n))][2] < 0.02 for n in WIDTH_SIZES)  # Lorentzian shape
print("exponent p of |A_fit/A - 1| ~ N^p:",
      {f"k0={k0:g}, Ñ={'N-1' if kac else '1'}": round(float(p), 2)
       for (k0, kac), p in slopes.items()})

# %% [markdown]
# ## Numbers

# %%
summary = {
    "omega_c_kac_N400": float(wc_kac[-1]),
    "omega_c_ntilde1_N400": float(wc_one[-1]),
    "N_omega_c_minus_1_kac_N400": float(400 * (wc_kac[-1] - 1)),
    "domega_c_dk0_N400": dwc,
    **{f"A_fit_k0={k0:g}_{'kac' if kac else 'ntilde1'}_N400": fits[(k0, kac, 400)][0]
       for k0, kac, _ in cases},
}
print(f"notebook run time: {time.perf_counter() - notebook_start:.0f} s")
print(json.dumps(summary, indent=1))
