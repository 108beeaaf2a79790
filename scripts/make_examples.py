"""Draw the app's example pictures from code, so they are ours and license-clean.

    python scripts/make_examples.py            # writes assets/examples/*.jpg

- `lake_sunset.jpg`: a colourful lake at sunset (mountains, sun, a sailing boat, reflections),
  a first frame for image-to-video.
- `old_family_photo.jpg`: a faded black-and-white "family photo" (a house, a tree, two people),
  with vignetting, film grain, dust and scratches, for the old-photo mode.

Both are 720×480 (CogVideoX's native size) JPEGs. Everything is seeded: the output is the same on
every run. Scenes are drawn at 2× and reduced with Lanczos, which antialiases every edge.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 720, 480
SS = 2  # supersampling factor: draw at 1440×960, save at 720×480
OUT_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"


def _ridge(rng: np.random.Generator, width: int, base: float, rough: float, levels: int = 9) -> np.ndarray:
    """A mountain ridge line (y in pixels per x) by 1-D midpoint displacement."""
    points = np.array([base + rng.uniform(-rough, rough), base + rng.uniform(-rough, rough)])
    amplitude = rough
    for _ in range(levels):
        mids = (points[:-1] + points[1:]) / 2 + rng.uniform(-amplitude, amplitude, len(points) - 1)
        merged = np.empty(len(points) * 2 - 1)
        merged[0::2], merged[1::2] = points, mids
        points, amplitude = merged, amplitude * 0.55
    return np.interp(np.linspace(0, len(points) - 1, width), np.arange(len(points)), points)


def _lerp_colours(stops: list[tuple[float, tuple[int, int, int]]], t: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp: t in [0, 1] (any shape) -> float RGB (shape + (3,))."""
    positions = [p for p, _ in stops]
    return np.stack([np.interp(t, positions, [c[i] for _, c in stops]) for i in range(3)], axis=-1)


def draw_lake_sunset(seed: int = 7) -> Image.Image:
    """A lake at sunset: gradient sky, sun and glow, three mountain ranges, a boat, reflections."""
    rng = np.random.default_rng(seed)
    w, h = WIDTH * SS, HEIGHT * SS
    horizon = int(h * 0.60)  # the lake's far shore
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    # 1. Sky: deep blue at the top through violet and rose to gold at the horizon.
    sky = _lerp_colours(
        [(0.0, (30, 38, 100)), (0.25, (96, 70, 146)), (0.45, (226, 112, 116)),
         (0.66, (252, 164, 92)), (1.0, (255, 218, 150))],
        np.clip(yy / horizon, 0, 1),
    )
    sun_x, sun_y, sun_r = w * 0.62, horizon - h * 0.27, h * 0.05
    dist = np.hypot(xx - sun_x, (yy - sun_y) * 1.15)
    glow = np.exp(-dist / (h * 0.16))[..., None]
    sky = sky * (1 - 0.55 * glow) + np.array([255, 226, 160]) * 0.55 * glow
    sky = np.where((dist < sun_r)[..., None], np.array([255, 244, 214]), sky)
    img = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)

    # 2. Thin clouds, lit from below by the sun.
    clouds = Image.new("L", (w, h), 0)
    cdraw = ImageDraw.Draw(clouds)
    for _ in range(14):
        cx, cy = rng.uniform(-0.1 * w, 1.1 * w), rng.uniform(h * 0.06, h * 0.26)
        length, thick = rng.uniform(w * 0.08, w * 0.35), rng.uniform(h * 0.004, h * 0.012)
        cdraw.ellipse([cx - length / 2, cy - thick, cx + length / 2, cy + thick], fill=int(rng.uniform(120, 220)))
    clouds = clouds.filter(ImageFilter.GaussianBlur(SS * 3))
    img = Image.composite(Image.new("RGB", (w, h), (252, 168, 150)), img, clouds)
    draw = ImageDraw.Draw(img)

    # 3. Three mountain ranges: far ones paler (aerial perspective), near ones darker.
    ranges = [
        (horizon - h * 0.16, h * 0.07, (150, 96, 150)),
        (horizon - h * 0.09, h * 0.06, (92, 60, 112)),
        (horizon - h * 0.03, h * 0.03, (44, 34, 70)),
    ]
    for base, rough, colour in ranges:
        ridge = _ridge(rng, w, base, rough)
        draw.polygon([(0, horizon)] + [(x, float(ridge[x])) for x in range(0, w, 2)] + [(w, horizon)], fill=colour)

    # 4. Pines on the near shore, left and right.
    for x0, x1, count in ((0, w * 0.22, 14), (w * 0.84, w, 9)):
        for _ in range(count):
            x = rng.uniform(x0, x1)
            tall = rng.uniform(h * 0.06, h * 0.14)
            half = tall * 0.22
            draw.polygon([(x, horizon - tall), (x - half, horizon + 2), (x + half, horizon + 2)], fill=(24, 26, 40))

    # 5. The lake: the scene above mirrored, darkened and cooled, rippled row by row.
    scene = np.asarray(img, dtype=np.float32)
    water_rows = h - horizon
    src_rows = np.clip(2 * horizon - np.arange(horizon, h) - 1, 0, horizon - 1)
    depth = (np.arange(water_rows) / water_rows)[:, None]
    ripple = (np.sin(np.arange(water_rows) * 0.9) * (2 + 10 * depth[:, 0])).astype(int)
    water = np.empty((water_rows, w, 3), np.float32)
    for r in range(water_rows):
        water[r] = np.roll(scene[src_rows[r]], ripple[r], axis=0)
    water = water * (0.78 - 0.30 * depth[..., None]) + np.array([10, 18, 40]) * (0.2 + 0.3 * depth[..., None])
    # The sun's glitter path: broken horizontal streaks under the sun, widening towards us.
    for r in range(0, water_rows, SS * 2):
        spread = w * (0.015 + 0.07 * r / water_rows)
        for _ in range(int(rng.integers(0, 3))):
            cx = sun_x + rng.normal(0, spread * 0.5)
            half = rng.uniform(w * 0.003, w * 0.014) * (1 + r / water_rows)
            x0, x1 = int(max(cx - half, 0)), int(min(cx + half, w))
            water[r:r + SS, x0:x1] = water[r:r + SS, x0:x1] * 0.35 + np.array([255, 214, 150]) * 0.65
    scene[horizon:] = water
    img = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)

    # 6. A small sailing boat, with a dark reflection below it.
    bx, by = w * 0.36, horizon + h * 0.13
    hull = [(bx - 60 * SS / 2, by), (bx + 60 * SS / 2, by), (bx + 44 * SS / 2, by + 14 * SS / 2),
            (bx - 44 * SS / 2, by + 14 * SS / 2)]
    mast_top = by - 90 * SS / 2
    sail = [(bx, mast_top), (bx, by - 6 * SS / 2), (bx + 42 * SS / 2, by - 6 * SS / 2)]
    jib = [(bx - 2 * SS, mast_top + 12 * SS), (bx - 2 * SS, by - 6 * SS / 2), (bx - 30 * SS / 2, by - 6 * SS / 2)]
    draw.polygon(sail, fill=(248, 228, 200))
    draw.polygon(jib, fill=(236, 200, 170))
    draw.line([(bx, mast_top), (bx, by)], fill=(40, 30, 36), width=SS * 2)
    draw.polygon(hull, fill=(70, 36, 40))
    mirror = by + 14 * SS / 2
    reflection = Image.new("L", (w, h), 0)
    rdraw = ImageDraw.Draw(reflection)
    rdraw.polygon([(x, 2 * mirror - y) for x, y in sail], fill=90)
    rdraw.polygon([(x, 2 * mirror - y) for x, y in hull], fill=140)
    reflection = reflection.filter(ImageFilter.GaussianBlur(SS * 2))
    img = Image.composite(Image.new("RGB", (w, h), (40, 24, 40)), img, reflection)

    # 7. A few birds, then reduce to the final size.
    draw = ImageDraw.Draw(img)
    for _ in range(5):
        x, y, s = rng.uniform(w * 0.15, w * 0.55), rng.uniform(h * 0.12, h * 0.30), rng.uniform(6, 11) * SS
        draw.line([(x - s, y - s * 0.4), (x, y), (x + s, y - s * 0.4)], fill=(40, 30, 60), width=SS * 2)
    return img.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def draw_old_family_photo(seed: int = 11) -> Image.Image:
    """A faded black-and-white photo: a house, a tree, a man and a woman, aged by vignette and grain."""
    rng = np.random.default_rng(seed)
    w, h = WIDTH * SS, HEIGHT * SS
    ground_y = int(h * 0.70)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    # 1. Overcast sky (light, slightly graded) and a lawn (mid grey, darker towards us).
    grey = np.where(yy < ground_y, 205 + 25 * (yy / ground_y), 120 - 40 * (yy - ground_y) / (h - ground_y))
    img = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)

    # 2. The house: walls, roof, chimney, door, four-pane windows, a path.
    hx0, hx1, hy0 = w * 0.46, w * 0.90, h * 0.34
    draw.rectangle([hx0, hy0, hx1, ground_y], fill=185)
    for y in np.arange(hy0 + 10 * SS, ground_y, 9 * SS):  # clapboard lines
        draw.line([(hx0, y), (hx1, y)], fill=165, width=SS)
    draw.rectangle([w * 0.80, h * 0.12, w * 0.84, h * 0.28], fill=70)  # chimney
    draw.polygon([(hx0 - 20 * SS, hy0 + 4 * SS), ((hx0 + hx1) / 2, h * 0.13), (hx1 + 20 * SS, hy0 + 4 * SS)], fill=58)
    door = [w * 0.64, h * 0.50, w * 0.71, ground_y]
    draw.rectangle(door, fill=55)
    draw.ellipse([door[2] - 10 * SS, h * 0.61, door[2] - 6 * SS, h * 0.61 + 4 * SS], fill=160)
    for wx in (w * 0.50, w * 0.78):
        frame = [wx, h * 0.45, wx + w * 0.08, h * 0.58]
        draw.rectangle(frame, fill=235)
        draw.rectangle([frame[0] + 3 * SS, frame[1] + 3 * SS, frame[2] - 3 * SS, frame[3] - 3 * SS], fill=75)
        draw.line([((frame[0] + frame[2]) / 2, frame[1]), ((frame[0] + frame[2]) / 2, frame[3])], fill=235, width=2 * SS)
        draw.line([(frame[0], (frame[1] + frame[3]) / 2), (frame[2], (frame[1] + frame[3]) / 2)], fill=235, width=2 * SS)
    draw.polygon([(door[0], ground_y), (door[2], ground_y), (door[2] + 60 * SS, h), (door[0] - 90 * SS, h)], fill=168)

    # 3. A leafy tree on the left: trunk plus a crown of overlapping dark blobs.
    draw.rectangle([w * 0.12, h * 0.38, w * 0.15, ground_y + 6 * SS], fill=45)
    for _ in range(60):
        cx, cy = rng.normal(w * 0.135, w * 0.055), rng.normal(h * 0.27, h * 0.07)
        r = rng.uniform(14, 30) * SS
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=int(rng.uniform(55, 95)))

    # 4. Two people in front: a man in a dark suit and hat, a woman in a light dress.
    def person(cx: float, feet: float, height: float, dress: bool) -> None:
        head_r = height * 0.075
        head_cy = feet - height + head_r
        shoulder = head_cy + head_r * 1.6
        half = height * 0.13
        body = 215 if dress else 50
        if dress:  # a flared dress down to the shins
            draw.polygon([(cx - half * 0.8, shoulder), (cx + half * 0.8, shoulder),
                          (cx + half * 1.5, feet - height * 0.12), (cx - half * 1.5, feet - height * 0.12)], fill=body)
        else:  # jacket and trousers
            draw.rounded_rectangle([cx - half, shoulder, cx + half, feet - height * 0.42], radius=half * 0.4, fill=body)
            draw.rectangle([cx - half * 0.85, feet - height * 0.45, cx - half * 0.08, feet], fill=40)
            draw.rectangle([cx + half * 0.08, feet - height * 0.45, cx + half * 0.85, feet], fill=40)
            draw.polygon([(cx - half * 0.25, shoulder), (cx + half * 0.25, shoulder), (cx, shoulder + half)], fill=225)
        for side in (-1, 1):  # arms
            x = cx + side * (half * (0.95 if not dress else 0.75))
            draw.line([(x, shoulder + 4 * SS), (x + side * half * 0.25, feet - height * 0.45)],
                      fill=body if not dress else 190, width=int(half * 0.4))
        if dress:  # legs under the dress
            for side in (-1, 1):
                leg_x = cx + side * half * 0.45
                draw.rectangle([leg_x - 3 * SS, feet - height * 0.13, leg_x + 3 * SS, feet], fill=150)
        draw.rectangle([cx - head_r * 0.35, head_cy + head_r * 0.8, cx + head_r * 0.35, shoulder + 2 * SS], fill=170)
        draw.ellipse([cx - head_r, head_cy - head_r, cx + head_r, head_cy + head_r], fill=178)
        if dress:  # hair
            hair = [cx - head_r * 1.1, head_cy - head_r * 1.15, cx + head_r * 1.1, head_cy + head_r * 0.9]
            draw.pieslice(hair, 180, 360, fill=60)
        else:  # hat
            draw.rectangle([cx - head_r * 1.5, head_cy - head_r * 0.55, cx + head_r * 1.5, head_cy - head_r * 0.35], fill=35)
            draw.rectangle([cx - head_r * 0.9, head_cy - head_r * 1.4, cx + head_r * 0.9, head_cy - head_r * 0.45], fill=35)
        draw.ellipse([cx - half * 1.6, feet - 4 * SS, cx + half * 1.6, feet + 6 * SS], fill=95)  # soft shadow

    person(w * 0.29, h * 0.90, h * 0.50, dress=False)
    person(w * 0.39, h * 0.91, h * 0.44, dress=True)

    # 5. Age it: soft focus, faded contrast, vignette, grain, dust, scratches, a faint sepia cast.
    img = img.filter(ImageFilter.GaussianBlur(SS * 0.9)).resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    tone = np.asarray(img, dtype=np.float32)
    tone = 38 + tone * 0.74  # lifted blacks, dimmed whites: a faded print
    vy, vx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    radius = np.hypot((vx - WIDTH / 2) / (WIDTH / 2), (vy - HEIGHT / 2) / (HEIGHT / 2))
    tone *= 1 - 0.42 * np.clip(radius - 0.55, 0, None) ** 1.6
    grain = rng.normal(0, 7, (HEIGHT // 2, WIDTH // 2)).astype(np.float32)
    tone += np.asarray(Image.fromarray(grain).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR))
    tone += rng.normal(0, 3, tone.shape)
    for _ in range(50):  # dust specks, light and dark
        x, y, r = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), rng.uniform(0.6, 1.8)
        tone[(vx - x) ** 2 + (vy - y) ** 2 < r * r] += rng.choice([-60, 70])
    for _ in range(4):  # long vertical scratches
        x = rng.uniform(0, WIDTH)
        y0, y1 = sorted(rng.uniform(0, HEIGHT, 2))
        rows = (vy >= y0) & (vy <= y1) & (np.abs(vx - (x + 0.02 * (vy - y0))) < 0.6)
        tone[rows] += 45
    tone = np.clip(tone, 0, 255)
    sepia = np.stack([tone * 1.04 + 4, tone * 1.0, tone * 0.90 - 2], axis=-1)
    return Image.fromarray(np.clip(sepia, 0, 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, image in (("lake_sunset.jpg", draw_lake_sunset()), ("old_family_photo.jpg", draw_old_family_photo())):
        path = args.out / name
        image.save(path, quality=92, optimize=True)
        print(f"wrote {path} ({image.width}×{image.height})")


if __name__ == "__main__":
    main()
