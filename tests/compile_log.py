"""Counting XLA compilations in a test, whatever the backend (from ``jax.log_compiles``)."""

import contextlib
import logging

import jax


class CompileLog(logging.Handler):
    """The names of the programs XLA compiled while :func:`compile_log` was active."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names = []

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Finished XLA compilation of "):
            self.names.append(message.split(" of ")[1].split(" in ")[0])

    def count(self, name):
        """How many compiled programs have `name` in their name (e.g. ``"jit(f)"``)."""
        return sum(name in n for n in self.names)


@contextlib.contextmanager
def compile_log():
    """Collect every XLA compilation inside the block into a :class:`CompileLog`."""
    log = CompileLog()
    logger = logging.getLogger("jax._src.dispatch")
    logger.addHandler(log)
    try:
        with jax.log_compiles():
            yield log
    finally:
        logger.removeHandler(log)
