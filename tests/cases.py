"""Shared parameter sets for the tests."""

import numpy as np


def extreme_cases(count=12, seed=42):
    """Random parameters spanning the hard regimes: weak/strong damping, strong disorder,
    stiff/soft coupling, Kac or not, walls. (The plain Lyapunov route loses digits for some
    of these — flux_left and flux_right disagree — so the reference is pole-aware quad.)"""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.choice([4, 15, 40]))
        delta = float(rng.choice([0.01, 0.1, 0.5, 0.9]))
        masses = rng.uniform(1 - delta, 1 + delta, n) * float(rng.choice([0.1, 1.0, 10.0]))
        nt = rng.choice(["kac", "1.0", "3.7"])
        yield (masses, float(rng.choice([0.01, 0.1, 1.0, 10.0])),
               float(rng.choice([0.0, 1e-3, 0.3, 5.0])), nt if nt == "kac" else float(nt),
               float(rng.choice([1e-3, 0.05, 1.0, 20.0])), float(rng.choice([0.0, 0.2, 3.0])))
