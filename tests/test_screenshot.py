"""take_screenshot against a real local page, in the real Chromium.

The page stands in for the dashboard: its data (a table, and a body colour) only appears a
while after load, set by JavaScript, so a shot taken too early would show neither.
"""

from __future__ import annotations

import http.server
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshdemo.run.screenshot import ScreenshotError, take_screenshot


@pytest.fixture(autouse=True)
def chromium(chromium_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's Chromium (conftest: skipped on a laptop without one, a failure in CI)."""
    monkeypatch.setenv("MESHDEMO_CHROMIUM", chromium_path)


DATA_COLOUR = (12, 200, 34)
DROPPED = 4
PAGE = f"""<!doctype html>
<html><head><style>body {{ margin: 0; background: white; }}</style></head>
<body><p>loading…</p>
<script>
setTimeout(() => {{
  document.body.style.background = "rgb{DATA_COLOUR}";
  document.body.innerHTML = "<table id='data'><tbody><tr><td>books</td></tr></tbody></table>";
}}, 1200);
</script></body></html>
""".encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dashboard() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/namespaces/booksapp"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered RGB(A) rows of an 8-bit PNG (enough for Chromium's output)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def pixel(rows: list[bytes], width: int, x: int, y: int) -> tuple[int, int, int]:
    channels = len(rows[0]) // width
    start = x * channels
    return tuple(rows[y][start : start + 3])  # type: ignore[return-value]


def test_shot_waits_for_the_data_and_has_the_asked_size(dashboard: str, tmp_path: Path) -> None:
    image = tmp_path / "images" / "dashboard.png"
    result = take_screenshot(dashboard, image, wait_for="#data tbody tr", width=900, height=600)
    assert result.image == image and result.attempts == 1
    width, height, rows = read_png(image)
    assert (width, height) == (900, 600)
    # The colour the page only sets once its data arrived: the shot did wait for it.
    assert pixel(rows, width, 890, 590) == DATA_COLOUR
    assert [p.name for p in image.parent.iterdir()] == ["dashboard.png"]  # no temp file left


def test_a_mask_records_the_boxes_of_its_elements(dashboard: str, tmp_path: Path) -> None:
    image = tmp_path / "shot.png"
    result = take_screenshot(
        dashboard, image, wait_for="#data", mask="#data td, .nothing", width=640, height=480
    )
    [(x, y, width, height)] = result.masks  # one cell; a selector finding nothing adds nothing
    assert 0 <= x < 640 and 0 <= y < 480 and 0 < width < 640 and 0 < height < 480
    assert take_screenshot(dashboard, image, wait_for="#data").masks == ()


def test_shot_without_selector_waits_for_a_settled_page(dashboard: str, tmp_path: Path) -> None:
    image = tmp_path / "shot.png"
    take_screenshot(dashboard, image, width=640, height=480)
    width, height, _ = read_png(image)
    assert (width, height) == (640, 480)


def test_a_missing_selector_keeps_the_previous_image(dashboard: str, tmp_path: Path) -> None:
    image = tmp_path / "dashboard.png"
    image.write_bytes(b"previous image bytes")
    with pytest.raises(ScreenshotError, match="waiting for '#never-there' to appear"):
        take_screenshot(dashboard, image, wait_for="#never-there", timeout=8)
    assert image.read_bytes() == b"previous image bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.png"]


def test_an_unreachable_port_is_retried_then_fails_keeping_the_image(tmp_path: Path) -> None:
    image = tmp_path / "dashboard.png"
    image.write_bytes(b"previous image bytes")
    with pytest.raises(ScreenshotError, match="did not answer"):
        take_screenshot(f"http://127.0.0.1:{_free_port()}/", image, timeout=8)
    assert image.read_bytes() == b"previous image bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.png"]


def test_a_port_forward_that_comes_up_late_is_waited_for(tmp_path: Path) -> None:
    # The port accepts and drops the first connections (a port-forward whose pod is not ready),
    # then the page is served: driven by the attempt itself, not by a timer.
    gate = socket.socket()
    gate.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    gate.bind(("127.0.0.1", 0))
    gate.listen()
    port = gate.getsockname()[1]
    started: list[http.server.ThreadingHTTPServer] = []

    def come_up_after_first_attempt() -> None:
        for _ in range(DROPPED):  # more than Chromium's own silent retries of a request
            connection, _ = gate.accept()
            connection.close()
        gate.close()
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        started.append(httpd)
        httpd.serve_forever()

    thread = threading.Thread(target=come_up_after_first_attempt, daemon=True)
    thread.start()
    try:
        result = take_screenshot(
            f"http://127.0.0.1:{port}/", tmp_path / "late.png", wait_for="#data", timeout=60
        )
        assert result.attempts > 1
        assert read_png(tmp_path / "late.png")[:2] == (1280, 800)
    finally:
        for httpd in started:
            httpd.shutdown()
            httpd.server_close()
        gate.close()


@pytest.mark.parametrize(
    "url",
    ["http://example.com/", "http://10.0.0.1:50750/", "file:///etc/passwd", "ftp://localhost/"],
)
def test_only_local_pages_are_shot(url: str, tmp_path: Path) -> None:
    with pytest.raises(ScreenshotError, match=r"localhost|http"):
        take_screenshot(url, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
