"""zoo report pages in a real browser: Debian's headless chromium, driven through its own
chromedriver by selenium, with the network switched off.

The network is off through DevTools' offline emulation (``Network.emulateNetworkConditions``)
rather than a dead proxy or resolver rule: it makes every request the page could make
fail at once, whatever the address, while the report itself loads from ``file://``.
``test_the_browser_is_really_offline`` proves it does, with an image served on loopback.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import time

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

INSTALL = "apt-get install chromium chromium-driver (.ci/run does this)"
OFFLINE = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_path, f"no chromium or chromedriver on PATH: {INSTALL}"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    # Both paths given: selenium then never runs Selenium Manager, which would download.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", OFFLINE)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def kit_env(tmp_path_factory, faulty_kit):
    with pytest.MonkeyPatch.context() as monkeypatch:
        return faulty_kit(tmp_path_factory.mktemp("kit"), monkeypatch).env()


@pytest.fixture(scope="module")
def sweep_case(tmp_path_factory, kit_env, real_sweep):
    return real_sweep(tmp_path_factory, kit_env)


@pytest.fixture(scope="module")
def synthetic_page(tmp_path_factory):
    from zoo.report.build import make_report
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path_factory.mktemp("synthetic") / "s"
    write_synthetic_sweep(out, 120)
    return make_report(out).html


def _load(browser, path):
    browser.get(path.resolve().as_uri())
    deadline = time.monotonic() + 20
    while browser.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline, f"{path} did not finish loading"
        time.sleep(0.05)


def _column(browser, table_id: str, index: int) -> list[str]:
    return browser.execute_script(
        "var i = arguments[1]; return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
        ".map(function (r) { return r.cells[i].textContent; });", f"#{table_id}", index)


def _header(browser, table_id: str, text: str):
    from selenium.webdriver.common.by import By

    headers = browser.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")
    return next(th for th in headers if th.text == text)


def _assert_page_complete(browser, path, figures):
    _load(browser, path)
    found = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure')).map(function (f) {"
        "  var img = f.querySelector('img');"
        "  return [f.id, img.complete, img.naturalWidth, img.naturalHeight]; });")
    assert [f[0] for f in found] == figures
    assert all(complete and width > 0 and height > 0 for _, complete, width, height in found), found
    # Nothing was requested from anywhere: images are data: URIs, the script is inline.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


@pytest.fixture(scope="session")
def assert_screenshot_not_blank(decode_image):
    def _assert_screenshot_not_blank(browser):
        image = decode_image(browser.get_screenshot_as_png())
        assert image.size[0] >= 1000
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or range(1 << 20)) > 50

    return _assert_screenshot_not_blank


def test_the_browser_is_really_offline(browser, tmp_path):
    png = tmp_path / "www" / "dot.png"
    png.parent.mkdir()
    from PIL import Image

    Image.new("RGB", (4, 4), "red").save(png)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(png.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = tmp_path / "probe.html"
        page.write_text(f'<img id="probe" src="http://127.0.0.1:{server.server_address[1]}/dot.png">')
        _load(browser, page)
        time.sleep(0.5)
        assert browser.execute_script("return document.getElementById('probe').naturalWidth") == 0
    finally:
        server.shutdown()
        server.server_close()


def test_sweep_page_has_its_table_and_every_figure_loaded(browser, sweep_case, sweep_figures,
                                                          assert_screenshot_not_blank):
    _assert_page_complete(browser, sweep_case.html, sweep_figures)
    assert _column(browser, "results-table", 1) == ["bad_nan", "slow"]
    assert _column(browser, "problems-table", 2) == ["diverged"]
    assert_screenshot_not_blank(browser)


def test_clicking_a_header_sorts_the_rows_in_the_page(browser, sweep_case):
    _load(browser, sweep_case.html)
    header = _header(browser, "results-table", "cpu test acc")
    header.click()
    # Ascending puts numbers first and statuses such as 'diverged' after them.
    assert _column(browser, "results-table", 1) == ["slow", "bad_nan"]
    assert header.get_attribute("aria-sort") == "ascending"
    _header(browser, "results-table", "model").click()
    assert _column(browser, "results-table", 1) == ["bad_nan", "slow"]


def test_numeric_columns_sort_as_numbers_both_ways(browser, synthetic_page, assert_screenshot_not_blank):
    _load(browser, synthetic_page)
    column = ["dataset", "model", "optimizer", "schedule", "regularizer", "launch", "nprocs",
              "params", "cpu val acc", "cpu best val acc", "cpu test acc", "cpu time s"].index("cpu time s")
    header = _header(browser, "results-table", "cpu time s")
    for direction in ("ascending", "descending"):
        header.click()
        assert header.get_attribute("aria-sort") == direction
        cells = _column(browser, "results-table", column)
        numbers = [float(c.split()[0]) for c in cells if c[0].isdigit()]
        assert len(numbers) > 90 and cells[:len(numbers)] == [c for c in cells if c[0].isdigit()]
        assert numbers == sorted(numbers, reverse=direction == "descending")
        # Text as text would put "100.3" before "45.1"; these times straddle 100 s.
        assert min(numbers) < 100 < max(numbers)
    assert_screenshot_not_blank(browser)


@pytest.mark.integration
def test_run_page_has_every_figure_loaded(browser, tmp_path_factory, real_run, run_figures,
                                          assert_screenshot_not_blank):
    case = real_run(tmp_path_factory)
    _assert_page_complete(browser, case.html, run_figures)
    assert _column(browser, "epochs-table", 0) == ["1"]
    assert_screenshot_not_blank(browser)


@pytest.fixture(scope="module")
def long_reason_page(tmp_path_factory):
    """A made-up sweep whose failed cell has a reason of several hundred characters, one
    word of them unbreakable (a path), as real tracebacks have."""
    from zoo.bench.store import Store
    from zoo.report.build import make_report
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path_factory.mktemp("long-reason") / "s"
    cells = write_synthetic_sweep(out, 6)
    reason = ("worker exited with code 1: RuntimeError: " + "the allocator could not find memory "
              * 12 + "/very/long/path/" * 20 + "model.py")
    store = Store(out / "results.db")
    try:
        store.record(cells[0], status="failed", reason=reason)
    finally:
        store.close()
    return make_report(out).html


def test_long_reasons_wrap_inside_the_page(browser, long_reason_page):
    _load(browser, long_reason_page)
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('td.reason')).map(function (td) {"
        "  var r = td.getBoundingClientRect(); return [td.textContent.length, r.right, r.height,"
        "  parseFloat(getComputedStyle(td).lineHeight)]; });")
    long = [b for b in boxes if b[0] > 400]
    assert len(long) == 2, boxes  # the results table's reason column and the problems table
    width = browser.execute_script("return document.documentElement.clientWidth")
    for _, right, height, line in long:
        assert right <= width and height > 3 * line, (right, width, height, line)


def test_figure_data_parses_in_the_browser(browser, synthetic_page, profiled_figures):
    _load(browser, synthetic_page)
    panels = browser.execute_script(
        "return Array.from(document.querySelectorAll('script.figure-data')).map(function (s) {"
        "  var d = JSON.parse(s.textContent); return [s.id, d.panels.length,"
        "  d.panels.reduce(function (n, p) { return n + p.lines.length + p.bars.length; }, 0)]; });")
    assert [p[0] for p in panels] == ["data-" + f[4:] for f in profiled_figures]
    assert all(count > 0 and drawn > 0 for _, count, drawn in panels), panels
