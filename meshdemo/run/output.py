"""A step's output, bounded while it runs and masked before it is cut.

A step may print without end (``yes``, a log followed for a while): the session reads its
output as it comes and keeps only a bounded tail in memory (:class:`OutputTail`), so neither
memory nor the disk grows with it. What a capture shows is that tail, masked of secrets
*first* and cut to :data:`MAX_OUTPUT` *after* (:func:`shown_output`): a secret that straddles
the cut is still whole when the masking rules see it.
"""

from __future__ import annotations

from meshdemo.run.masking import mask

MAX_OUTPUT = 512 * 1024  # bytes of a step's output shown (its tail)
# bytes kept while the step runs: more than shown, so that what is cut after masking was seen
# by the masking rules with the text around it
KEPT_OUTPUT = 2 * MAX_OUTPUT


class OutputTail:
    """The last :data:`KEPT_OUTPUT` bytes of a stream, and how many came before them."""

    def __init__(self, keep: int = KEPT_OUTPUT):
        self.keep = keep
        self.data = bytearray()
        self.dropped = 0  # bytes left out before ``data``

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        # trim in batches: amortised linear, however small the chunks
        if len(self.data) > 2 * self.keep:
            cut = len(self.data) - self.keep
            del self.data[:cut]
            self.dropped += cut

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def shown_output(text: str, dropped: int = 0, *, limit: int = MAX_OUTPUT) -> str:
    """What a capture and the terminal get of a step's output: masked, then cut to its last
    ``limit`` bytes (at a line start), saying how much was left out. ``dropped``: bytes left
    out before ``text`` already."""
    masked = mask(text, cut=dropped > 0)
    encoded = masked.encode()
    if len(encoded) > limit:
        cut = len(encoded) - limit
        newline = encoded.find(b"\n", cut)
        if newline != -1 and newline - cut < 4096:
            cut = newline + 1
        dropped += cut
        masked = encoded[cut:].decode("utf-8", errors="replace")
    if dropped:
        masked = f"[... {dropped} bytes of output left out ...]\n" + masked
    return masked
