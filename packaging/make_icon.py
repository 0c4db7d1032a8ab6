"""Draw Fimble's app icon with Qt and write every size the platforms need.

Run once; the output in ``resources/icons`` is committed:
``fimble-{16..1024}.png``, ``fimble.png`` (256 px), ``fimble.ico`` (Windows,
PNG entries up to 256 px) and ``fimble.icns`` (macOS, PNG entries).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QLinearGradient, QPainter, QPen


def draw(size: int) -> QImage:
    """Return the icon at ``size`` × ``size`` pixels."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    gradient = QLinearGradient(0, 0, size, size)
    gradient.setColorAt(0, QColor("#2b5cc4"))
    gradient.setColorAt(1, QColor("#1b8a6b"))
    p.setBrush(gradient)
    p.setPen(Qt.PenStyle.NoPen)
    margin = size * 0.06
    p.drawRoundedRect(QRectF(margin, margin, size - 2 * margin, size - 2 * margin), size * 0.2, size * 0.2)
    font = QFont("DejaVu Sans Mono", int(size * 0.30), QFont.Weight.Bold)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRectF(0, 0, size, size * 0.92), Qt.AlignmentFlag.AlignCenter, "{f}")
    # A text cursor under the middle: where the completion goes.
    p.setPen(QPen(QColor(255, 255, 255, 170), size * 0.04, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(int(size * 0.36), int(size * 0.74), int(size * 0.64), int(size * 0.74))
    p.end()
    return image


PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09", 1024: b"ic10"}


def png_bytes(image: QImage) -> bytes:
    """Encode an image as PNG."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """Pack PNG images into a Windows .ico (PNG entries, Vista and later)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        edge = 0 if size >= 256 else size  # 0 means 256 in an ICO entry
        entries += struct.pack("<BBBBHHII", edge, edge, 0, 0, 1, 32, len(blob), offset + len(blobs))
        blobs += blob
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """Pack PNG images into a macOS .icns."""
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for size, kind in ICNS_TYPES.items())
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_all(out: Path) -> None:
    """Write the PNG set, ``fimble.png``, ``fimble.ico`` and ``fimble.icns`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    pngs = {size: png_bytes(draw(size)) for size in PNG_SIZES}
    for size, blob in pngs.items():
        (out / f"fimble-{size}.png").write_bytes(blob)
    (out / "fimble.png").write_bytes(pngs[256])
    (out / "fimble.ico").write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    (out / "fimble.icns").write_bytes(icns_bytes(pngs))


if __name__ == "__main__":
    app = QGuiApplication(sys.argv)
    target = Path(__file__).resolve().parents[1] / "resources" / "icons"
    write_all(target)
    print(target)
