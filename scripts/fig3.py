"""Reproduce Fig. 3 of PRE 105, 054149: T(ω) of the pinned chain (k0 = 1).

m = k = γ = 1, k0 = 1, identical masses, several N; same layout as ``fig2.py``: full T(ω)
with high-frequency-tail insets, and the main peak at ω_c with the two-Lorentzian form of
Eq. (28) using ω_c of Eq. (26) and 𝒜 of Eq. (29) (dashed), plus a least-squares fit of
Eq. (28) (dotted, :func:`fit_resonance_lorentzians`).

    python scripts/fig3.py --out figures/       # writes fig3.png
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fig2 import _panels  # noqa: E402

from meanfield_jax import analytic as an  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="figures/")
    args = p.parse_args(argv)

    def eq28(w, n, kac):
        """Eqs. 26, 28, 29"""
        return an.lorentzian_pinned(w, n, 1.0, 1.0, 1.0, "kac" if kac else 1, 1.0)

    _panels(1.0, args.out, "fig3.png", eq28,
            "Fig. 3: transmittance, pinned chain (m = k = γ = 1, k0 = 1)")


if __name__ == "__main__":
    main()
