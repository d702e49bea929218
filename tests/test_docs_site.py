"""The built documentation site (issue 30; marker ``docs``: ``make test-docs``, CI).

Needs ``make docs`` first (the site in ``site/``); skips, saying why, without it. Two kinds
of checks:

* the reference is complete: every name of ``meanfield_jax.__all__``, every module-level
  public name of ``analytic``, ``masses`` and ``networks``, every ``meanfield-jax``
  subcommand and every sweep/simulate config key appears in the built pages;
* a real browser: headless Chromium (Debian's ``chromium`` package, driven by playwright
  through ``executable_path``; no browser is downloaded) opens the home page, a user-guide
  page, a notebook and the API page of ``heat_flux`` from a local HTTP server on 127.0.0.1,
  and checks each page's title, rendered math (MathJax 3 output, no MathJax errors), that
  every image loaded, that the search box finds ``heat_flux``, and that the console shows no
  errors and no request failed. Screenshots go to pytest's temporary folder only.
"""

import functools
import html
import http.server
import os
import pathlib
import re
import sys
import threading
import time

import pytest

import meanfield_jax as mf

pytestmark = pytest.mark.docs

ROOT = pathlib.Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 120_000  # generous: on a loaded 2-core machine the search index alone takes 30 s
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
from test_docs_api import PUBLIC_MODULES, public_module_names  # noqa: E402


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        pytest.skip("the documentation site is not built: run `make docs` (or make test-docs)")
    return SITE


def _ids(site: pathlib.Path) -> set[str]:
    """Every HTML id of the API reference pages."""
    ids = set()
    for page in (site / "api").glob("*/index.html"):
        ids |= set(re.findall(r'\bid="([^"]+)"', page.read_text()))
    return ids


def test_reference_shows_every_public_name(site):
    ids = _ids(site)
    missing = []
    for name in mf.__all__:
        if name in PUBLIC_MODULES:
            if not (site / "api" / name / "index.html").exists():
                missing.append(f"page api/{name}/")
        elif f"meanfield_jax.{name}" not in ids:
            missing.append(name)
    for module in PUBLIC_MODULES:
        missing += [f"{module}.{name}" for name in public_module_names(module)
                    if f"meanfield_jax.{module}.{name}" not in ids]
    assert not missing, f"not in the built API reference: {missing}"


def test_cli_reference_shows_every_subcommand(site):
    from gen_docs import cli_commands

    _, commands = cli_commands()
    text = html.unescape((site / "reference" / "cli" / "index.html").read_text())
    assert commands, "the parser has no subcommands?"
    missing = [name for name in commands if f"meanfield-jax {name}" not in text]
    assert not missing, f"subcommands missing from the CLI reference: {missing}"
    for name, parser in commands.items():  # every flag of every subcommand
        flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
        assert all(f in text for f in flags), (name, [f for f in flags if f not in text])


def test_config_reference_shows_every_key(site):
    import dataclasses

    from meanfield_jax import _simulate_config, _sweep_config

    text = html.unescape((site / "reference" / "config" / "index.html").read_text())
    keys = [f.name for f in dataclasses.fields(_sweep_config.SweepConfig)]
    keys += list(_simulate_config._KEYS)
    missing = [k for k in keys if f"<code>{k}</code>" not in text]
    assert not missing, f"config keys missing from the reference: {missing}"


# ----------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[docs]')")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        yield browser
        browser.close()


PAGES = {  # path: a phrase of its title
    "": "meanfield_jax",
    "guide/transport/": "Transmittance",
    "notebooks/01_tour/": "tour",
    "api/transport/": "Transport",
}

_MATH_DONE = """async () => {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return false;
    await MathJax.startup.promise;
    return document.querySelectorAll('mjx-container').length > 0;
}"""


def _open(browser, url, problems):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    return page


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_in_chromium(browser, server, path, tmp_path):
    problems = []
    page = _open(browser, server + path, problems)
    try:
        assert PAGES[path].lower() in page.title().lower(), page.title()
        assert page.locator("h1").count() >= 1, "no h1 heading"
        page.wait_for_function(_MATH_DONE, timeout=TIMEOUT_MS)
        assert page.locator("mjx-merror").count() == 0, "MathJax reported an error"
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.currentSrc || e.src, e.complete, e.naturalWidth])")
        broken = [src[:80] for src, complete, width in images if not (complete and width > 0)]
        assert not broken, f"broken images: {broken}"
        page.screenshot(path=str(tmp_path / "page.png"), full_page=False)
        assert not problems, problems
    finally:
        page.close()


def test_search_finds_heat_flux(browser, server, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    problems = []
    page = _open(browser, server, problems)
    try:
        box = page.locator("input.md-search__input")  # the header's search box (desktop)
        box.click()
        # A query typed before the search worker has built its index gets no answer: type
        # it again until results appear (each try waits up to 10 s).
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            box.fill("")
            box.type("heat_flux")
            try:
                page.wait_for_function(
                    "document.querySelectorAll('.md-search-result__item').length > 0",
                    timeout=10_000)
                break
            except PlaywrightTimeout:
                if time.monotonic() > deadline:
                    raise
        results = page.locator(".md-search-result__item")
        texts = " ".join(results.all_inner_texts())
        assert "heat_flux" in texts, texts[:500]
        links = page.eval_on_selector_all(".md-search-result__link", "els => els.map(e => e.href)")
        assert any("api/transport" in link for link in links), links
        page.screenshot(path=str(tmp_path / "search.png"))
        assert not problems, problems
    finally:
        page.close()
