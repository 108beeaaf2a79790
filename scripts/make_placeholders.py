"""Draw the pictures the works gallery shows for jobs without a cover (ui/placeholders/*.png).

Drawn from code so they are ours; no text in them (the caption under each says the status in
the user's language).

    python scripts/make_placeholders.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "ui" / "placeholders"
SIZE = (480, 320)
COLOURS = {  # top and bottom of a soft vertical gradient, and the glyph colour
    "queued": ((236, 239, 244), (210, 216, 226), (120, 130, 150)),
    "running": ((222, 235, 255), (186, 208, 245), (60, 110, 210)),
    "failed": ((255, 232, 230), (245, 200, 196), (200, 60, 50)),
    "cancelled": ((238, 238, 238), (214, 214, 214), (130, 130, 130)),
    "succeeded": ((226, 246, 232), (196, 230, 206), (50, 150, 80)),
}


def gradient(top, bottom) -> Image.Image:
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        t = y / (SIZE[1] - 1)
        draw.line([(0, y), (SIZE[0], y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return image


def glyph(draw: ImageDraw.ImageDraw, status: str, colour) -> None:
    cx, cy = SIZE[0] // 2, SIZE[1] // 2
    if status == "queued":  # an hourglass
        draw.polygon([(cx - 40, cy - 55), (cx + 40, cy - 55), (cx, cy)], fill=colour)
        draw.polygon([(cx - 40, cy + 55), (cx + 40, cy + 55), (cx, cy)], outline=colour, width=6)
    elif status == "running":  # three dots of a spinner
        for i, dx in enumerate((-50, 0, 50)):
            r = 12 + 4 * i
            draw.ellipse([cx + dx - r, cy - r, cx + dx + r, cy + r], fill=colour)
    elif status == "failed":  # a cross
        draw.line([(cx - 45, cy - 45), (cx + 45, cy + 45)], fill=colour, width=16)
        draw.line([(cx - 45, cy + 45), (cx + 45, cy - 45)], fill=colour, width=16)
    elif status == "cancelled":  # a stop square
        draw.rounded_rectangle([cx - 40, cy - 40, cx + 40, cy + 40], radius=10, outline=colour, width=10)
    else:  # a play triangle
        draw.polygon([(cx - 35, cy - 50), (cx - 35, cy + 50), (cx + 55, cy)], fill=colour)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for status, (top, bottom, colour) in COLOURS.items():
        image = gradient(top, bottom)
        glyph(ImageDraw.Draw(image), status, colour)
        image.save(OUT / f"{status}.png", optimize=True)
        print(OUT / f"{status}.png")


if __name__ == "__main__":
    main()
