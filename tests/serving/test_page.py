"""The report page: self-contained, small, served with the API's token rule, and rendered by a real headless Chromium.

The browser test needs Debian's ``chromium`` (``.ci/run`` installs it); it is skipped, saying so, where it is missing.
It writes its screenshot to ``$RAYTP_SCREENSHOT_DIR`` (default: the test's tmp dir)."""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from raytp.serving.http_api import create_app
from raytp.serving.recommender import Recommender
from raytp.serving.page import PAGE, render_page, write_page
from raytp.rundir import RunDir
from tests.recommender_runs import TASKS, write_run

TOKEN = "page-token-0123456789"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_page_is_self_contained_and_shows_every_part(tmp_path):
    write_run(tmp_path / "r", searches=("pruned", "full"))
    page = render_page(tmp_path / "r")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 2 + len(TASKS)
    for element in ('id="verdicts"', 'id="heatmap"', 'id="gain-heatmap"', 'id="kept"', 'id="best-so-far"'):
        assert element in page
    # offline: nothing fetched from anywhere (no scripts, no external fonts, styles or images)
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r'(src|href)="(?!#)', page)
    rec = Recommender.from_run_dir(tmp_path / "r")
    for v in rec.verdicts():
        assert html.escape(v["text"], quote=True) in page


def test_page_is_under_2_mb_for_20_tasks(tmp_path):
    tasks = [f"task{i:02d}" for i in range(20)]
    write_run(tmp_path / "r", tasks=tasks, searches=("pruned", "full"), keep=3)
    RunDir(tmp_path / "r").write_json("report.json", {"time_reduction": 0.8, "per_target": []})
    size = len(render_page(tmp_path / "r").encode())
    assert 20_000 < size < 2_000_000, size


def test_write_page_records_a_checksum(tmp_path):
    run = write_run(tmp_path / "r")
    assert write_page(run) == PAGE
    assert run.verify() == [] and PAGE in run.manifest()["artifacts"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A real uvicorn server on 127.0.0.1 with a token and the local-only guard, serving a run with a page."""
    run = write_run(tmp_path / "r", searches=("pruned", "full"))
    write_page(run)
    rec = Recommender.from_run_dir(tmp_path / "r")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: rec, token=TOKEN, loopback_only=True), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", run
    server.should_exit = True
    thread.join(timeout=10)


def test_page_is_served_with_the_api_token_rule(served):
    url, run = served
    for path in ("/", "/report"):
        assert httpx.get(url + path, timeout=10).status_code == 401
        assert httpx.get(url + path + "?token=wrong", timeout=10).status_code == 401
        r = httpx.get(url + path + f"?token={TOKEN}", timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.text == run.read_text(PAGE)
        r = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert r.status_code == 200
    assert httpx.get(url + "/v1/tasks", timeout=10).status_code == 401  # the API's rule is unchanged


def _open(browser, url: str) -> tuple:
    """Load ``url`` in a fresh page; returns (page, console errors and page errors, load seconds)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    start = time.perf_counter()
    response = page.goto(url, wait_until="load", timeout=30_000)
    return page, response, errors, time.perf_counter() - start


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium; "
                                              ".ci/run installs it for CI)")
def test_page_renders_in_headless_chromium(served, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (a dev dependency) is not installed")
    url, _ = served
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            _, _, errors, _ = _open(browser, bad.as_uri())
            assert errors == ["console.error: boom"]  # the detector can fail

            page, response, errors, load_s = _open(browser, f"{url}/?token={TOKEN}")
            assert response.status == 200 and errors == [], errors
            nav_ms = page.evaluate("() => performance.getEntriesByType('navigation')[0].duration")
            assert load_s < 1.0 and nav_ms < 1000, (load_s, nav_ms)
            assert page.locator("#heatmap").is_visible() and page.locator("#verdicts").is_visible()
            assert page.locator("#heatmap rect.cell").count() == len(TASKS) * (len(TASKS) - 1)
            assert page.locator("#verdicts tbody tr").count() == len(TASKS)
            out_dir = Path(os.environ.get("RAYTP_SCREENSHOT_DIR") or tmp_path)
            out_dir.mkdir(parents=True, exist_ok=True)
            shot = out_dir / "report_page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            _, response, errors, _ = _open(browser, f"{url}/report")  # no token: the API's 401, as JSON
            assert response.status == 401 and errors in ([], [e for e in errors if "401" in e])
        finally:
            browser.close()
