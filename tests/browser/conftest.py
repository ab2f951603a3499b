"""Browser tests: headless Debian Chromium, driven by Playwright, against the live server.

Every page a test opens is watched: a console error, an uncaught script error, a
Content-Security-Policy violation or a request to another host fails the test.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

# Playwright's sync API keeps an event loop running in the main thread, which makes Django
# refuse database access from test code (fixtures, the flush between tests) without this.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package to run browser tests"
        # In CI a missing browser is a failure, never a silent skip.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return {
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


_WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__leadladderReport(
    `CSP ${event.violatedDirective} blocked ${event.blockedURI || "inline"}` +
    ` at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def browser_problems(context, live_server):
    """Everything that went wrong in the browser during the test; must stay empty."""
    problems: list[str] = []
    server = urlsplit(live_server.url).netloc

    def on_console(message):
        if message.type == "error":
            problems.append(f"console error: {message.text} ({message.location})")

    def on_request(request):
        parts = urlsplit(request.url)
        if parts.scheme != "data" and parts.netloc != server:
            problems.append(f"request to another host: {request.url}")

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status} for {response.url}")

    def on_csp_violation(report: str) -> None:
        problems.append(report)

    def on_page(page):
        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"uncaught error: {error}"))

    context.expose_function("__leadladderReport", on_csp_violation)
    context.add_init_script(_WATCH_CSP)
    context.on("page", on_page)
    context.on("request", on_request)
    context.on("response", on_response)
    yield problems
    assert problems == [], "the browser reported problems:\n" + "\n".join(problems)


@pytest.fixture
def page(context, browser_problems) -> Page:
    # Pages of this suite are always watched; see browser_problems.
    return context.new_page()


@pytest.fixture
def log_in(page: Page, live_server):
    """Log in through the real login form, by label, as a persona with the test password."""

    def _log_in(username: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{live_server.url}/")

    return _log_in
