"""The built book in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``)
driven by Selenium, pointed at those binaries (``SE_OFFLINE``: Selenium Manager downloads nothing).

Per page: it loads with no console error and no failed request; every equation is typeset by MathJax
(no raw ``$$``, ``\\(`` or ``\\[`` left in the text); every image has loaded (natural width > 0); every
internal link resolves (the file exists and so does its anchor); no element overflows the content
column. The search page finds "fidelity". Screenshots of three pages are saved.

The checks over the whole book run only when ``QDM_BOOK_HTML`` names a built site (``.ci/run`` builds
the book and then runs this file with it set); without it they are not collected. The tests on a tiny
fake site, which show that each check can fail (a page whose MathJax file is missing among them), always
run.
"""

from __future__ import annotations

import functools
import html.parser
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: no download, no network

CHROMIUM = os.environ.get("QDM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("QDM_CHROMEDRIVER", "/usr/bin/chromedriver")
BOOK_ENV = "QDM_BOOK_HTML"
WINDOW = (1280, 900)

# ------------------------------------------------------------------------------------ browser


class _QuietHandler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a rewritten test page is fetched again
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        return


@functools.lru_cache(maxsize=None)
def _ids_of(path: Path) -> frozenset[str]:
    """Every id (and a name) in an HTML file: the anchors a link may target."""

    class Collect(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for key, value in attrs:
                if key == "id" or (tag == "a" and key == "name"):
                    if value:
                        self.ids.add(value)

    parser = Collect()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


class Site:
    """A static site served on 127.0.0.1 and a headless Chromium to open its pages."""

    def __init__(self, root: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        for binary in (CHROMIUM, CHROMEDRIVER):
            if not Path(binary).is_file():
                pytest.fail(f"{binary} not found: install Debian's chromium and chromium-driver "
                            "(bash scripts/setup-browser.sh; .ci/run does it)")
        self.root = root.resolve()
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        try:
            self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        except BaseException:
            self.server.shutdown()
            raise
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(60)

    def close(self) -> None:
        self.driver.quit()
        self.server.shutdown()
        self.server.server_close()

    def url(self, relpath: str) -> str:
        return urllib.parse.urljoin(self.base, relpath)

    def _drain_logs(self) -> None:
        self.driver.get_log("browser")
        self.driver.get_log("performance")

    def open(self, relpath: str) -> None:
        """Load a page, scroll through it (so every image loads) and wait for MathJax and the images."""
        self._drain_logs()
        self.driver.get(self.url(relpath))
        self.driver.execute_script("window.scrollTo(0, document.body.scrollHeight); window.scrollTo(0, 0);")
        self.driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const started = Date.now();
            const images = () => Array.from(document.images).every(i => i.complete);
            const math = () => !(window.MathJax && MathJax.startup && MathJax.startup.promise);
            function poll() {
              if (Date.now() - started > 30000) { done('timeout'); return; }
              if (!math()) {
                MathJax.startup.promise.then(() => setTimeout(() => images() ? done('ok') : setTimeout(poll, 100), 50),
                                             () => done('mathjax failed'));
                return;
              }
              if (document.readyState === 'complete' && images()) { setTimeout(() => done('ok'), 300); return; }
              setTimeout(poll, 100);
            }
            poll();
            """
        )

    def problems(self, relpath: str) -> list[str]:
        """Everything wrong with one page (an empty list when it passes every check)."""
        self.open(relpath)
        found: list[str] = []
        found += [f"console: {e['message']}" for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        found += self._failed_requests()
        found += [f"raw maths: {t!r}" for t in self.driver.execute_script(_RAW_MATH_JS)]
        found += [f"image not loaded: {src}" for src in self.driver.execute_script(_IMAGES_JS)]
        found += [f"overflows the column: {el}" for el in self.driver.execute_script(_OVERFLOW_JS)]
        found += self._broken_links()
        return found

    def _failed_requests(self) -> list[str]:
        failed = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message.get("method") == "Network.loadingFailed" and not params.get("canceled"):
                failed.append(f"request failed: {params.get('errorText')} ({params.get('type')})")
            elif message.get("method") == "Network.responseReceived":
                response = params.get("response", {})
                if int(response.get("status", 200)) >= 400:
                    failed.append(f"request failed: HTTP {response['status']} {response.get('url')}")
        return failed

    def _broken_links(self) -> list[str]:
        broken = []
        for href in self.driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"):
            if not href.startswith(self.base):
                continue  # external or javascript: links are not the book's own
            parsed = urllib.parse.urlparse(href)
            rel = urllib.parse.unquote(parsed.path)[1:]
            target = self.root / rel
            if rel == "" or target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"link to a missing file: {href}")
            elif parsed.fragment and target.suffix == ".html":
                if urllib.parse.unquote(parsed.fragment) not in _ids_of(target):
                    broken.append(f"link to a missing anchor: {href}")
        return sorted(set(broken))

    def search(self, term: str) -> int:
        """Number of results the site's search page lists for ``term``."""
        self.open("search.html?q=" + urllib.parse.quote(term))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            count = self.driver.execute_script(
                "const r = document.querySelectorAll('#search-results li, ul.search li'); return r.length;")
            status = self.driver.execute_script(
                "const s = document.querySelector('#search-results .search-summary, #search-results p');"
                "return s ? s.textContent : '';")
            if count or "did not match" in status:
                return int(count)
            time.sleep(0.2)
        return 0

    def screenshot(self, relpath: str, path: Path) -> Path:
        self.open(relpath)
        fragment = urllib.parse.urlparse(relpath).fragment
        if fragment:
            self.driver.execute_script("document.getElementById(arguments[0]).scrollIntoView();", fragment)
            time.sleep(0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path


_RAW_MATH_JS = r"""
const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER', 'MJX-ASSISTIVE-MML']);
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  let el = node.parentElement, skipped = false;
  while (el) {
    if (skip.has(el.tagName.toUpperCase()) || el.classList.contains('highlight')) { skipped = true; break; }
    el = el.parentElement;
  }
  if (skipped) continue;
  const t = node.textContent;
  for (const tok of ['$$', '\\(', '\\[']) {
    const i = t.indexOf(tok);
    if (i >= 0) { out.push(t.slice(Math.max(0, i - 20), i + 40)); break; }
  }
}
document.querySelectorAll('.math').forEach(el => {
  if (!el.querySelector('mjx-container')) out.push('untypeset .math: ' + el.textContent.slice(0, 60));
});
return out.slice(0, 20);
"""

_IMAGES_JS = """
return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
"""

_OVERFLOW_JS = """
const column = document.querySelector('article.bd-article') || document.querySelector('[role=main]') || document.body;
const box = column.getBoundingClientRect();
const out = [];
const clips = el => {
  for (let a = el.parentElement; a && a !== column; a = a.parentElement) {
    const o = getComputedStyle(a).overflowX;
    if (o !== 'visible') return true;
  }
  return false;
};
column.querySelectorAll('*').forEach(el => {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return;
  if ((r.right > box.right + 1 || r.left < box.left - 1) && !clips(el)) {
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    out.push(name + ' right=' + Math.round(r.right) + ' column right=' + Math.round(box.right));
  }
});
return out.slice(0, 20);
"""


@pytest.fixture
def fake_site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    root = tmp_path / "site"
    root.mkdir()
    site = Site(root)
    yield site, root
    site.close()


def _png(path: Path) -> None:
    """A 4×3 PNG written by matplotlib (a real image file for the fake site)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(path, [[0.0, 0.5, 1.0, 0.2]] * 3)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title><link rel="icon" href="data:,">{head}</head>
<body><article class="bd-article" style="width: 600px">{body}</article></body></html>"""


def test_clean_fake_page_has_no_problem(fake_site: tuple[Site, Path]) -> None:
    site, root = fake_site
    _png(root / "a.png")
    (root / "other.html").write_text(_PAGE.format(head="", body='<h2 id="there">x</h2>'), encoding="utf-8")
    body = '<p id="top">text</p><img src="a.png"><a href="other.html#there">ok</a> <a href="#top">up</a>'
    (root / "index.html").write_text(_PAGE.format(head="", body=body), encoding="utf-8")
    assert site.problems("index.html") == []


def test_page_whose_mathjax_file_is_missing_is_caught(fake_site: tuple[Site, Path]) -> None:
    site, root = fake_site
    head = '<script defer src="_static/mathjax/tex-chtml.js"></script>'
    body = r'<p>Fidelity <span class="math notranslate nohighlight">\(F(\rho, \sigma)\)</span>.</p>'
    (root / "index.html").write_text(_PAGE.format(head=head, body=body), encoding="utf-8")
    found = site.problems("index.html")
    assert any("HTTP 404" in p and "tex-chtml.js" in p for p in found), found
    assert any(p.startswith("raw maths:") and r"\(F(" in p for p in found), found
    assert any("untypeset .math" in p for p in found), found


def test_broken_image_link_anchor_console_error_and_overflow_are_caught(fake_site: tuple[Site, Path]) -> None:
    site, root = fake_site
    (root / "other.html").write_text(_PAGE.format(head="", body="<p>no anchors</p>"), encoding="utf-8")
    body = (
        '<img src="missing.png"><a href="gone.html">a</a> <a href="other.html#nowhere">b</a>'
        '<div id="wide" style="width: 900px">wide</div><script>console.error("boom")</script>'
    )
    (root / "index.html").write_text(_PAGE.format(head="", body=body), encoding="utf-8")
    found = site.problems("index.html")
    assert any(p.startswith("image not loaded:") and "missing.png" in p for p in found), found
    assert any(p.startswith("link to a missing file:") and "gone.html" in p for p in found), found
    assert any(p.startswith("link to a missing anchor:") and "#nowhere" in p for p in found), found
    assert any(p.startswith("console:") and "boom" in p for p in found), found
    assert any(p.startswith("overflows the column: div#wide") for p in found), found
    # The same wide element inside a scrolling box (what qdm.css does for display maths) is no overflow.
    body = '<div style="overflow-x: auto"><div id="wide" style="width: 900px">wide</div></div>'
    (root / "scrolls.html").write_text(_PAGE.format(head="", body=body), encoding="utf-8")
    assert site.problems("scrolls.html") == []


# ------------------------------------------------------------------------------ the built book

if os.environ.get(BOOK_ENV):
    BOOK = Path(os.environ[BOOK_ENV]).resolve()
    SCREENSHOTS = Path(os.environ.get("QDM_SCREENSHOT_DIR", BOOK.parent / "screenshots"))

    def _pages() -> list[str]:
        if not (BOOK / "searchindex.js").is_file():
            raise RuntimeError(f"{BOOK_ENV}={BOOK} is not a built book (no searchindex.js); build it first")
        skip = {"genindex.html", "search.html", "index.html"}  # index.html only redirects to the intro
        return sorted(
            p.relative_to(BOOK).as_posix()
            for p in BOOK.rglob("*.html")
            if not p.relative_to(BOOK).parts[0].startswith("_") and p.name not in skip
        )

    @pytest.fixture(scope="module")
    def book() -> Iterator[Site]:
        site = Site(BOOK)
        yield site
        site.close()

    @pytest.mark.parametrize("page", _pages())
    def test_book_page_in_browser(book: Site, page: str) -> None:
        problems = book.problems(page)
        assert not problems, "\n".join(problems)

    def test_book_has_every_chapter_page() -> None:
        pages = _pages()
        for page in ("book/intro.html", "book/cite.html", "book/works.html", "notebooks/04_hybrid_ddpm.html"):
            assert page in pages

    def test_book_search_finds_fidelity(book: Site) -> None:
        assert book.search("fidelity") > 0
        assert book.search("xqzzyv") == 0  # and the count is not always positive

    def test_book_screenshots(book: Site) -> None:
        shots = {
            "intro.png": "book/intro.html",
            "hybrid_ddpm.png": "notebooks/04_hybrid_ddpm.html#fig-hybrid-loss",
            "diffusion_theory.png": "notebooks/01_diffusion_theory.html",
        }
        for name, page in shots.items():
            path = book.screenshot(page, SCREENSHOTS / name)
            assert path.stat().st_size > 10_000  # a real rendering, not a blank page

    def test_book_figures_offer_their_files_and_a_citation() -> None:
        import re

        for page in (p for p in _pages() if p.startswith("notebooks/")):
            text = (BOOK / page).read_text(encoding="utf-8")
            plain = re.sub(r"<[^>]+>", "", text)
            assert f'href="../_notebooks/{Path(page).stem}.ipynb"' in text, page
            assert f"python -m qdm.nb run notebooks/{Path(page).stem}.py" in plain, page
            every = re.findall(r'<figure[^>]*?(?:id="([^"]*)")?>(.*?)</figure>', text, re.S)
            for name, body in every:  # numbered, with a stable name as its anchor (not Sphinx's id1, id2...)
                assert re.fullmatch(r"(fig|tab)-[a-z0-9-]+", name), f"{page}: figure without a stable name: {name!r}"
                assert '<span class="caption-number">' in body, f"{page}#{name}: not numbered"
            figures = [(name, body) for name, body in every if name.startswith("fig-")]
            assert figures, page
            for name, body in figures:
                for ext in ("png", "svg", "csv", "json"):
                    assert f"{name}.{ext}" in body, f"{page}#{name}: no {ext} link"
                assert "Cite this figure" in body and "commit" in body, f"{page}#{name}"
