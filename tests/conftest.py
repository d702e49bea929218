"""Test configuration: float64 on before anything creates an array; repo root importable;
shared fixtures."""

import os
import signal
import sys

import jax
import pytest

jax.config.update("jax_enable_x64", True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def sigint_reaches_children():
    """Children get SIGINT as a terminal delivers it, even when the tests run as a background
    job (which starts with SIGINT ignored, inherited through exec, and meanfield-jax keeps an
    ignored signal ignored): a handled signal is reset to the default by exec."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)
