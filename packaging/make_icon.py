"""Draw Fimble's app icon with Qt and write it as PNG (run once; output is committed)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
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


if __name__ == "__main__":
    app = QGuiApplication(sys.argv)
    out = Path(__file__).resolve().parents[1] / "resources" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    draw(256).save(str(out / "fimble.png"))
    print(out / "fimble.png")
