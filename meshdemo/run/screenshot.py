"""Dashboard screenshots with Playwright driving the system's Chromium.

The shot waits for the page's *data* (a CSS selector such as ``table tbody tr``), never for a
fixed time, and retries the connection while a port-forward (``linkerd viz dashboard &``) comes
up. The image is replaced whole or not at all: a failed shot keeps the previous image.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Only local pages: the guide shoots port-forwarded dashboards, and the viz dashboard itself
# rejects any other Host header.
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# the viewport boxes of the elements a mask selector finds (the shot is of the viewport)
_BOXES = """els => els.map(e => { const r = e.getBoundingClientRect();
  return [r.x, r.y, r.width, r.height]; })"""
RETRY_DELAY = 0.5  # seconds between connection attempts while a port-forward starts


class ScreenshotError(Exception):
    """The shot could not be taken; the previous image, if any, is left untouched."""


@dataclass(frozen=True)
class ScreenshotResult:
    image: Path
    url: str
    width: int
    height: int
    taken_at: str  # ISO 8601, UTC, when the shot was written
    duration: float  # seconds, from launch to the image in place
    attempts: int  # connection attempts it took
    masks: tuple[tuple[float, float, float, float], ...] = ()  # boxes of `mask`'s elements


def check_url(url: str) -> None:
    """Raise ScreenshotError unless ``url`` is an http(s) URL on this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ScreenshotError(f"screenshot URL must be http(s)://localhost…, not {url!r}")
    if (parts.hostname or "") not in LOCAL_HOSTS:
        raise ScreenshotError(
            f"screenshot URL must point at localhost, 127.0.0.1 or [::1], not {parts.hostname!r}"
        )


def chromium_path() -> str:
    return os.environ.get("MESHDEMO_CHROMIUM", DEFAULT_CHROMIUM)


def take_screenshot(
    url: str,
    image: Path,
    *,
    wait_for: str | None = None,
    width: int = 1280,
    height: int = 800,
    timeout: float = 60,
    mask: str | None = None,
) -> ScreenshotResult:
    """Shoot ``url`` into ``image`` (PNG, ``width`` x ``height``), within ``timeout`` seconds.

    Waits for ``wait_for`` to be visible, or, without it, for the network to be idle and the
    body to hold some text. ``mask``: a CSS selector whose elements' boxes (x, y, width,
    height in the image's pixels) are recorded with the shot. Raises ScreenshotError on any
    failure, leaving ``image`` as it was.
    """
    check_url(url)
    executable = chromium_path()
    if not Path(executable).exists():
        raise ScreenshotError(
            f"no Chromium at {executable} (install Debian's chromium or set MESHDEMO_CHROMIUM)"
        )
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    image = Path(image)
    image.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    deadline = began + timeout

    stage = "starting Chromium"  # what the time ran out on, for the message

    def remaining_ms() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ScreenshotError(f"timed out after {timeout:g} s {stage} ({url})")
        return left * 1000

    fd, tmp_name = tempfile.mkstemp(dir=image.parent, prefix=f".{image.name}.", suffix=".png")
    os.close(fd)
    tmp = Path(tmp_name)
    attempts = 0
    boxes: list[list[float]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, timeout=remaining_ms()
            )
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                last_error = ""
                stage = "connecting: the page did not answer"
                while True:
                    attempts += 1
                    try:
                        response = page.goto(url, wait_until="load", timeout=remaining_ms())
                    except PlaywrightError as error:
                        # Connection refused/reset while the port-forward starts: try again.
                        last_error = str(error).splitlines()[0]
                    else:
                        if response is None or response.status < 500:
                            break
                        last_error = f"HTTP {response.status}"
                    if deadline - time.monotonic() <= RETRY_DELAY:
                        raise ScreenshotError(
                            f"{url} did not answer in {timeout:g} s "
                            f"({attempts} attempts; last: {last_error})"
                        )
                    time.sleep(RETRY_DELAY)
                if response is not None and response.status >= 400:
                    raise ScreenshotError(f"{url} answered HTTP {response.status}")
                what = f"{wait_for!r} to appear" if wait_for else "the page to settle"
                stage = f"waiting for {what}"
                try:
                    if wait_for:
                        page.wait_for_selector(wait_for, state="visible", timeout=remaining_ms())
                    else:
                        page.wait_for_load_state("networkidle", timeout=remaining_ms())
                        page.wait_for_function(
                            "document.body && document.body.innerText.trim().length > 0",
                            timeout=remaining_ms(),
                        )
                    page.evaluate("document.fonts.ready.then(() => true)")
                except PlaywrightError as error:
                    raise ScreenshotError(
                        f"gave up waiting for {what} on {url} after {timeout:g} s"
                    ) from error
                stage = "taking the shot"
                if mask:
                    boxes = page.eval_on_selector_all(mask, _BOXES)
                page.screenshot(
                    path=str(tmp), type="png", animations="disabled", timeout=remaining_ms()
                )
            finally:
                browser.close()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the site must be able to read the image
        os.replace(tmp, image)
    except PlaywrightError as error:
        tmp.unlink(missing_ok=True)
        raise ScreenshotError(f"Chromium failed on {url}: {str(error).splitlines()[0]}") from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ScreenshotResult(
        image=image,
        url=url,
        width=width,
        height=height,
        taken_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration=time.monotonic() - began,
        attempts=attempts,
        masks=tuple(tuple(round(v, 1) for v in box) for box in boxes),  # type: ignore[misc]
    )
