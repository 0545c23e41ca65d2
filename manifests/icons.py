"""The app's two icons, drawn in code so they can be remade exactly: `python -m manifests.icons`.

Colour (192x192): a clipboard on the partnership blue, with a red, an amber and a green mark, the
last one ticked. Outline (32x32): the clipboard and tick in white on transparent, as Teams asks.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
BLUE = (0x1F, 0x4E, 0x79, 255)
WHITE = (255, 255, 255, 255)
RED = (0xC0, 0x39, 0x2B, 255)
AMBER = (0xE6, 0x9B, 0x1E, 255)
GREEN = (0x2E, 0x8B, 0x57, 255)
CLEAR = (0, 0, 0, 0)
Colour = tuple[int, int, int, int]
Paint = Callable[[float, float], Colour]  # (x, y) in 0..1 -> colour


def png(size: int, paint: Paint, samples: int = 4) -> bytes:
    """Render `paint` at `size` pixels with samples x samples anti-aliasing, as an RGBA PNG."""
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # no filter
        for x in range(size):
            total = [0, 0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    r, g, b, a = paint((x + (sx + 0.5) / samples) / size, (y + (sy + 0.5) / samples) / size)
                    total = [total[0] + r * a, total[1] + g * a, total[2] + b * a, total[3] + a]
            alpha = total[3] / samples**2
            rgb = [round(c / total[3]) if total[3] else 0 for c in total[:3]]
            rows.extend([*rgb, round(alpha)])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _rounded(x: float, y: float, left: float, top: float, right: float, bottom: float, radius: float) -> bool:
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2 and left <= x <= right and top <= y <= bottom


def _tick(x: float, y: float, ox: float, oy: float, scale: float, width: float) -> bool:
    """A tick whose corner is at (ox, oy)."""
    for (x1, y1), (x2, y2) in (((-0.6, -0.5), (0.0, 0.1)), ((0.0, 0.1), (1.1, -1.0))):
        ax, ay, bx, by = ox + x1 * scale, oy + y1 * scale, ox + x2 * scale, oy + y2 * scale
        t = max(0.0, min(1.0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)))
        if (x - ax - t * (bx - ax)) ** 2 + (y - ay - t * (by - ay)) ** 2 <= (width / 2) ** 2:
            return True
    return False


def colour(x: float, y: float) -> Colour:
    if not _rounded(x, y, 0, 0, 1, 1, 0.18):
        return CLEAR
    if _tick(x, y, 0.66, 0.80, 0.17, 0.075):  # the tick, over the board's corner, with a blue edge
        return GREEN
    if _tick(x, y, 0.66, 0.80, 0.17, 0.13):
        return BLUE
    if _rounded(x, y, 0.38, 0.12, 0.62, 0.24, 0.04):  # the clip
        return (0xD9, 0xE4, 0xEE, 255)
    if _rounded(x, y, 0.24, 0.17, 0.76, 0.88, 0.06):  # the board
        for row, mark in enumerate((RED, AMBER, GREEN)):
            cy = 0.36 + row * 0.18
            if (x - 0.35) ** 2 + (y - cy) ** 2 <= 0.045**2:
                return mark
            if 0.45 <= x <= 0.68 and abs(y - cy) <= 0.018:
                return (0x9F, 0xB3, 0xC8, 255)
        return WHITE
    return BLUE


def outline(x: float, y: float) -> Colour:
    board = _rounded(x, y, 0.16, 0.1, 0.84, 0.94, 0.1) and not _rounded(x, y, 0.26, 0.2, 0.74, 0.84, 0.05)
    clip = _rounded(x, y, 0.34, 0.04, 0.66, 0.18, 0.05)
    return WHITE if board or clip or _tick(x, y, 0.46, 0.62, 0.22, 0.1) else CLEAR


ICONS = {"color.png": (192, colour), "outline.png": (32, outline)}


def main() -> None:
    for name, (size, paint) in ICONS.items():
        (HERE / name).write_bytes(png(size, paint))
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
