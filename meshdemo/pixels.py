"""Comparing two screenshots pixel by pixel (Pillow), leaving out the regions a page masks.

A pixel differs when one of its colour channels moved by more than ``channel`` (font
anti-aliasing moves a few units). The share of differing pixels is taken over the pixels
that are compared: masked regions (boxes recorded at shot time, in CSS pixels of the
viewport, which is what the screenshot's pixels are) count neither way.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

Box = Sequence[float]  # x, y, width, height
GAP = 16  # pixels between the images of a side-by-side view
HIGHLIGHT = (230, 0, 60)
LABELS = 28  # pixels above the images for their titles


@dataclass(frozen=True)
class ImageDifference:
    share: float  # differing pixels / compared pixels (1.0 when the sizes differ)
    changed: Image.Image  # "L": 255 where a compared pixel differs
    masked: Image.Image  # "L": 255 where a mask covers the image


def _mask(size: tuple[int, int], boxes: Sequence[Box]) -> Image.Image:
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for box in boxes:
        x, y, width, height = (float(v) for v in box[:4])
        if width > 0 and height > 0:
            draw.rectangle([x, y, x + width - 1, y + height - 1], fill=255)
    return mask


def difference(
    old: Path, new: Path, masks: Sequence[Box] = (), *, channel: int = 24
) -> ImageDifference:
    with Image.open(old) as first, Image.open(new) as second:
        before, after = first.convert("RGB"), second.convert("RGB")
    masked = _mask(after.size, masks)
    if before.size != after.size:
        everything = Image.new("L", after.size, 255)
        return ImageDifference(1.0, everything, masked)
    # the largest channel difference of each pixel, then "differs" or not
    delta = ImageChops.difference(before, after).split()
    largest = ImageChops.lighter(ImageChops.lighter(delta[0], delta[1]), delta[2])
    changed = largest.point(lambda value: 255 if value > channel else 0)
    changed = ImageChops.subtract(changed, masked)
    compared = after.width * after.height - masked.histogram()[255]
    share = changed.histogram()[255] / compared if compared else 0.0
    return ImageDifference(share, changed, masked)


def side_by_side(old: Path, new: Path, found: ImageDifference, target: Path) -> Path:
    """One PNG: the old shot, the new one, and the new one with what changed in red."""
    with Image.open(old) as first, Image.open(new) as second:
        before, after = first.convert("RGB"), second.convert("RGB")
    marked = Image.blend(after, Image.new("RGB", after.size, (255, 255, 255)), 0.6)
    marked.paste(Image.new("RGB", after.size, HIGHLIGHT), (0, 0), found.changed)
    grey = Image.new("RGB", after.size, (150, 150, 150))
    marked.paste(grey, (0, 0), found.masked.point(lambda value: 90 if value else 0))
    height = max(before.height, after.height) + LABELS
    sheet = Image.new("RGB", (before.width + 2 * after.width + 2 * GAP, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    columns = (0, before.width + GAP, before.width + after.width + 2 * GAP)
    titles = ("old", "new", "changed (red), masked (grey)")
    for left, image, title in zip(columns, (before, after, marked), titles, strict=True):
        draw.text((left + 4, 6), title, fill=(0, 0, 0), font_size=14)
        sheet.paste(image, (left, LABELS))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".png")
    os.close(fd)
    try:
        sheet.save(name, "PNG")
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return target
