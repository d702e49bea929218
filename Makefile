# meanfield_jax: set-up, main job and tests. Needs only Python >= 3.11 with venv/pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test test-notebooks test-all test-docs docs bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

# The main job: a built-in Fig. 4 sweep (J against N for identical, graded and random
# masses, k0 in {0, 0.02}, both Kac factors), its dataset, figure and fitted exponents.
run: setup
	mkdir -p results
	$(BIN)/meanfield-jax sweep --builtin fig4-quick --out results/fig4_quick.nc --plot results/fig4_quick.png

# The default test suite (< 3 minutes on 2 cores: two pytest-xdist workers, one test file,
# or one group of files that compile the same programs (tests/conftest.py), each at a time,
# so that they share their compiled programs; LLVM at level 0: the suite mostly compiles,
# see tests/conftest.py); `make test-notebooks` executes the
# notebooks (CI runs both); `make test-all` runs everything, slow tests included.
test: setup
	MEANFIELD_JAX_TEST_FAST_COMPILE=1 $(BIN)/python -m pytest -m "not slow and not notebooks and not docs" -q -n 2 --dist loadfile

test-notebooks: setup
	$(BIN)/python -m pytest -m notebooks -q

# The documentation site (mkdocs.yml): built into site/ with warnings as errors (a broken
# link, cross-reference or missing page fails it), then checked in headless Chromium
# (Debian's chromium package: apt-get install chromium; the test skips, saying why, without it).
$(BIN)/.docs-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $@

docs: $(BIN)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --clean --site-dir site

test-docs: docs
	$(BIN)/python -m pytest -m docs -q -p no:cacheprovider tests/test_docs_site.py

test-all: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python scripts/bench_transmittance.py
	$(BIN)/python scripts/bench_flux.py
	$(BIN)/python scripts/bench_temperatures.py
	$(BIN)/python scripts/bench_langevin.py

clean:
	rm -rf $(VENV) results .pytest_cache site .cache
