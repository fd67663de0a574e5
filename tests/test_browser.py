"""The app in a real browser: Debian's headless Chromium driven by Playwright.

The same conversation runs against the app over the fake assistant (fast) and
against ``python app.py`` over the real pipeline (``slow``). Set ``QA_SCREENSHOT``
to a path to save a screenshot of the real answer there (used for the README).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_app import (
    NO_ANSWER_MESSAGE,
    Q_FOLLOW,
    Q_NONE,
    Q_TUOWEI,
    TITLE,
    FakeAssistant,
    pipeline_available,
    serve_in_thread,
    start_app_process,
    stop_process,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Long enough for the first question after the model has loaded on a busy machine.
ANSWER_TIMEOUT_MS = 120_000
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def wait_rendered(page) -> None:
    """Wait until the page has settled: no Gradio event pending (no progress
    tracker showing), web fonts loaded, and two animation frames painted.

    Replaces a fixed virtual-time budget: it waits exactly as long as rendering takes.
    """
    page.wait_for_function(
        """() => !document.querySelector('.progress-text, .eta-bar, .generating')
                 && document.fonts.status === 'loaded'"""
    )
    page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


def open_app(page, url: str) -> None:
    """Load the app and wait for it to settle (the stored conversation restored)."""
    page.goto(url)
    page.locator("#qa-question textarea").wait_for()
    wait_rendered(page)


def ask(page, question: str, n: int):
    """Type ``question``, send it, and return the n-th (1-based) bot message once rendered."""
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    reply = page.locator('[data-testid="bot"]').nth(n - 1)
    reply.wait_for(state="visible")
    wait_rendered(page)
    return reply


def run_conversation(page, url: str) -> None:
    """The scenario of issue 6: answer + citation, follow-up, abstention, injected script."""
    open_app(page, url)

    first = ask(page, Q_TUOWEI, 1)
    text = first.inner_text()
    assert "124个" in text and TITLE in text and "字符" in text and "段" in text
    assert first.locator("mark").first.inner_text() == "124个"
    source = page.locator("#qa-source")
    assert "124个" in source.locator("mark").first.inner_text()

    assert "4家" in ask(page, Q_FOLLOW, 2).inner_text()
    assert NO_ANSWER_MESSAGE in ask(page, Q_NONE, 3).inner_text()
    assert page.locator(".qa-related").count() == 1  # related passages shown once (chat only)

    ask(page, XSS, 4)
    user = page.locator('[data-testid="user"]').nth(3)
    assert "<script>window.__xss=1</script>" in user.inner_text()
    assert user.locator("script, img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []


def test_conversation_over_fake_assistant(page):
    demo, url = serve_in_thread(FakeAssistant())
    try:
        run_conversation(page, url)
    finally:
        demo.close()


def test_conversation_survives_refresh_and_can_be_reopened(page):
    demo, url = serve_in_thread(FakeAssistant())
    try:
        open_app(page, url)
        ask(page, Q_TUOWEI, 1)
        ask(page, Q_FOLLOW, 2)
        page.reload()
        open_app(page, url)
        bots = page.locator('[data-testid="bot"]')
        bots.nth(1).wait_for()
        assert bots.count() == 2 and "4家" in bots.nth(1).inner_text()
        assert "<mark>4家</mark>" in page.locator("#qa-source").inner_html()
        page.locator("#qa-new").click()
        wait_rendered(page)
        assert page.locator('[data-testid="bot"]').count() == 0
        ask(page, Q_NONE, 1)
        page.locator("#qa-past input").click()
        page.get_by_role("option", name=Q_TUOWEI, exact=False).click()
        page.locator('[data-testid="bot"]').nth(1).wait_for()
        wait_rendered(page)
        assert "4家" in page.locator('[data-testid="bot"]').nth(1).inner_text()
    finally:
        demo.close()


@pytest.mark.slow
def test_conversation_over_real_pipeline(page, tmp_path):
    if not pipeline_available():
        pytest.skip("the real pipeline (qa.embedding / qa.index / Assistant) is not available yet")
    proc, url, log = start_app_process(tmp_path / "index")
    try:
        run_conversation(page, url)
        if os.environ.get("QA_SCREENSHOT"):
            shoot(page, url, Path(os.environ["QA_SCREENSHOT"]))
    finally:
        stop_process(proc)


def shoot(page, url: str, path: Path) -> None:
    """Save a screenshot of a new conversation showing the 托位 answer and its follow-up."""
    open_app(page, url)
    page.locator("#qa-new").click()
    wait_rendered(page)
    ask(page, Q_TUOWEI, 1)
    ask(page, Q_FOLLOW, 2).locator("mark").first.wait_for()
    wait_rendered(page)
    page.screenshot(path=str(path), full_page=False)
