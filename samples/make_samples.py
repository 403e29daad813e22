"""Generate the small synthetic defect-inspection dataset in ``samples/defects`` (Pascal VOC layout).

Usage::

    python samples/make_samples.py                 # writes samples/defects next to this script
    python samples/make_samples.py --out DIR       # writes into DIR instead
    python samples/make_samples.py --out DIR --force

The output directory must be missing or empty; ``--force`` lets the script write into a non-empty directory,
overwriting only the files it generates (it never deletes anything; files it does not own are listed, not removed).

What it makes (all procedural, no external data):

* 48 RGB images of 320x240 pixels: brushed metal (streak noise along a brushing direction) or woven fabric (plain
  weave with fibre noise), both under a lighting gradient.
* Defects in four classes, in this order: ``scratch`` (thin, long, slightly curved bright or dark lines),
  ``spot`` (small dark irregular blobs), ``crack`` (jagged dark branching polylines), ``inclusion`` (small irregular
  bright or dark particles). 80 / 40 / 20 / 8 boxes, so the rarest class is ten times rarer than the most common.
  Five images have no defects (negatives: VOC XML without objects). Four defects run off the image border and
  are marked ``truncated``.
* Boxes are the tight bounds of the drawn defect pixels: every defect is drawn as a coverage map, coverage below a
  threshold is dropped entirely (so no pixel outside the mask is touched), and the box is taken from the mask that
  remains inside the image. Boxes of one image never overlap (they keep a gap of a few pixels), so differencing the
  rendered image against the clean background recovers each box. Every drawn pixel changes the image: backgrounds
  stay within [70, 210] per channel and the defect colours are at most 30 or at least 240, so even the faintest
  blended pixel moves by several grey levels.
* VOC coordinates: a box covering pixel columns c0..c1 (0-based, inclusive) is ``[c0, c1 + 1]`` in continuous
  pixel coordinates and is written as ``xmin = c0 + 1``, ``xmax = c1 + 1`` (1-based inclusive); the same for rows.
* ``ImageSets/Main/train.txt`` and ``val.txt``: a deterministic 38 / 10 split in which both splits contain every class
  (and a negative); ``classes.txt`` lists the class names one per line.

Determinism: one ``numpy.random.Generator`` (PCG64) with a fixed seed drives everything; files are written in a fixed
order; JPEGs are saved with Pillow at quality 90, 4:2:0 subsampling, ``optimize=False``, no EXIF. Running the script
twice gives byte-identical files. The JPEG bytes depend on the libjpeg bundled with Pillow, so a different Pillow
build may encode slightly different bytes (``tests/test_samples.py`` compares against the committed copy).

``generate()`` returns everything in memory (clean background, rendered image, per-defect masks and boxes) so the
tests can check each box against the drawn pixels.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SEED = 20240611
WIDTH, HEIGHT = 320, 240
CLASSES = ("scratch", "spot", "crack", "inclusion")
CLASS_COUNTS = {"scratch": 80, "spot": 40, "crack": 20, "inclusion": 8}
N_IMAGES = 48
N_NEGATIVES = 5
N_VAL = 10
MAX_PER_IMAGE = 7
# Defects forced to run off the image border (class names; each in a different image).
BORDER_DEFECTS = ("scratch", "scratch", "crack", "spot")
JPEG_QUALITY = 90
FOLDER = "defects"

BG_MIN, BG_MAX = 70.0, 210.0  # background range per channel: keeps every defect pixel visibly different
COVERAGE_THRESHOLD = 0.3  # coverage below this is dropped: the mask is exactly the set of touched pixels
BOX_GAP = 3  # minimum gap in pixels between boxes of one image
PAD = 96  # defects are drawn on a canvas padded by this much, so cut-off parts can be detected
DARK = (0.0, 30.0)  # range of dark defect colours
BRIGHT = (240.0, 255.0)  # range of bright defect colours


@dataclass
class Defect:
    label: str
    mask: np.ndarray  # bool (HEIGHT, WIDTH): pixels the defect touches inside the image
    box: tuple[int, int, int, int]  # 0-based inclusive pixel bounds of mask: (c0, r0, c1, r1)
    truncated: bool  # the drawn defect extends past the image border


@dataclass
class Sample:
    stem: str
    surface: str  # "metal" or "fabric"
    clean: np.ndarray  # uint8 (HEIGHT, WIDTH, 3) background without defects
    image: np.ndarray  # uint8 (HEIGHT, WIDTH, 3) background with defects, exactly what is JPEG-encoded
    defects: list[Defect] = field(default_factory=list)
    split: str = "train"


# ---------------------------------------------------------------------------------------------------------------
# Backgrounds


def _moving_average(a: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Centred box filter of odd length k along axis, with reflected borders (pure numpy, deterministic)."""
    r = k // 2
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="reflect"), axis=axis)
    n = a.shape[axis]
    hi = np.take(c, np.arange(k, k + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return (hi - lo) / k


def _lighting(rng: np.random.Generator) -> np.ndarray:
    """Multiplicative illumination: a linear gradient in a random direction plus a soft off-centre highlight."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    theta = rng.uniform(0, 2 * np.pi)
    u = ((x - WIDTH / 2) * np.cos(theta) + (y - HEIGHT / 2) * np.sin(theta)) / WIDTH
    light = 1.0 + rng.uniform(0.15, 0.35) * u
    cx, cy = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)
    s = rng.uniform(90, 180)
    light += rng.uniform(0.05, 0.15) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    return light


def _metal(rng: np.random.Generator) -> np.ndarray:
    """Brushed metal: noise smeared along the brushing direction, a few stronger brush lines, fine grain."""
    angle = rng.uniform(-6, 6) * np.pi / 180
    big = int(np.ceil(np.hypot(WIDTH, HEIGHT))) + 8
    fine = _moving_average(rng.standard_normal((big, big)), 31, axis=1) * 8.0
    coarse = _moving_average(_moving_average(rng.standard_normal((big, big)), 121, axis=1), 3, axis=0) * 14.0
    streaks = fine + coarse
    # Rotate the streak field slightly so the brushing is not perfectly horizontal.
    m = cv2.getRotationMatrix2D((big / 2, big / 2), float(np.degrees(angle)), 1.0)
    m[:, 2] -= [(big - WIDTH) / 2, (big - HEIGHT) / 2]
    streaks = cv2.warpAffine(
        streaks.astype(np.float32), m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    ).astype(np.float64)
    grain = rng.standard_normal((HEIGHT, WIDTH)) * 1.5
    base = rng.uniform(125, 160)
    tint = np.array([1.0, 1.0 + rng.uniform(0.0, 0.02), 1.0 + rng.uniform(0.02, 0.06)])
    gray = (base + streaks + grain) * _lighting(rng)
    return gray[:, :, None] * tint[None, None, :]


FABRIC_COLOURS = (
    (150.0, 150.0, 148.0),  # grey
    (172.0, 158.0, 120.0),  # khaki
    (92.0, 112.0, 150.0),  # denim
    (118.0, 128.0, 92.0),  # olive
    (176.0, 170.0, 160.0),  # greige
)


def _fabric(rng: np.random.Generator) -> np.ndarray:
    """Woven fabric: plain weave of rounded threads with fibre noise, slightly rotated, under a lighting gradient."""
    period = rng.uniform(6.0, 9.0)
    angle = rng.uniform(-8, 8) * np.pi / 180
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    u = (x * np.cos(angle) + y * np.sin(angle)) / period + rng.uniform(0, 1)
    v = (-x * np.sin(angle) + y * np.cos(angle)) / period + rng.uniform(0, 1)
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    warp_on_top = ((iu + iv) % 2) == 0
    su, sv = np.sin(np.pi * fu), np.sin(np.pi * fv)
    warp = su * (0.55 + 0.45 * sv)  # warp thread runs along v: rounded across u, dips where it goes under
    weft = sv * (0.55 + 0.45 * su)
    height = np.where(warp_on_top, warp, weft)
    # Fibre noise, streaked along whichever thread is on top.
    n1 = _moving_average(rng.standard_normal((HEIGHT, WIDTH)), 5, axis=0)
    n2 = _moving_average(rng.standard_normal((HEIGHT, WIDTH)), 5, axis=1)
    fibre = np.where(warp_on_top, n1, n2) * 0.10
    colour = np.array(FABRIC_COLOURS[rng.integers(len(FABRIC_COLOURS))]) * rng.uniform(0.93, 1.07)
    shade = (0.62 + 0.40 * height + fibre) * _lighting(rng)
    grain = rng.standard_normal((HEIGHT, WIDTH, 1)) * 1.5
    return colour[None, None, :] * shade[:, :, None] + grain


def _background(surface: str, rng: np.random.Generator) -> np.ndarray:
    img = _metal(rng) if surface == "metal" else _fabric(rng)
    return np.clip(np.round(img), BG_MIN, BG_MAX).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Defects: each returns (coverage in [0, 1] on the padded canvas, colour RGB, strength in (0, 1])

CANVAS_W, CANVAS_H = WIDTH + 2 * PAD, HEIGHT + 2 * PAD
SHIFT = 4  # cv2 fixed-point fractional bits for sub-pixel drawing
SCALE = 1 << SHIFT


def _fixed(points: np.ndarray) -> np.ndarray:
    """Canvas coordinates (float, image frame) to cv2 fixed-point int32 points on the padded canvas."""
    return np.round((points + PAD) * SCALE).astype(np.int32).reshape(-1, 1, 2)


def _colour(rng: np.random.Generator, bright: bool) -> np.ndarray:
    lo, hi = BRIGHT if bright else DARK
    grey = rng.uniform(lo, hi)
    return np.clip(grey + rng.uniform(-4, 4, size=3), lo, hi)


def _scratch(rng: np.random.Generator, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    length = rng.uniform(35, 120)
    theta = rng.uniform(0, np.pi)
    d = np.array([np.cos(theta), np.sin(theta)])
    normal = np.array([-d[1], d[0]])
    p0, p2 = centre - d * length / 2, centre + d * length / 2
    p1 = centre + normal * length * rng.uniform(-0.12, 0.12)
    t = np.linspace(0, 1, 48)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    canvas = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    thickness = 1 if rng.random() < 0.75 else 2
    # Intensity varies smoothly along the scratch and fades at both ends.
    phase, waves = rng.uniform(0, 2 * np.pi), rng.uniform(1, 3)
    for i in range(len(curve) - 1):
        s = (i + 0.5) / (len(curve) - 1)
        level = min(1.0, 4 * s, 4 * (1 - s)) * (0.8 + 0.2 * np.sin(phase + waves * 2 * np.pi * s))
        cv2.line(
            canvas,
            tuple(int(v) for v in _fixed(curve[i]).ravel()),
            tuple(int(v) for v in _fixed(curve[i + 1]).ravel()),
            int(round(255 * max(level, 0.35))),
            thickness,
            cv2.LINE_AA,
            SHIFT,
        )
    bright = rng.random() < 0.65
    return canvas / 255.0, _colour(rng, bright), rng.uniform(0.6, 0.85) if bright else rng.uniform(0.5, 0.75)


def _irregular_blob(
    rng: np.random.Generator, centre: np.ndarray, radius: float, aspect: float, softness: float
) -> np.ndarray:
    """Soft blob whose radius wobbles with the angle; evaluated on a local window of the padded canvas."""
    cov = np.zeros((CANVAS_H, CANVAS_W))
    r = int(np.ceil(radius * max(aspect, 1) * 1.6)) + 2
    cx, cy = int(round(centre[0])) + PAD, int(round(centre[1])) + PAD
    y, x = np.mgrid[cy - r : cy + r + 1, cx - r : cx + r + 1].astype(np.float64)
    dx, dy = x - PAD - centre[0], y - PAD - centre[1]
    rot = rng.uniform(0, np.pi)
    a = dx * np.cos(rot) + dy * np.sin(rot)
    b = (-dx * np.sin(rot) + dy * np.cos(rot)) * aspect
    ang = np.arctan2(b, a)
    wobble = 1.0
    for k in (2, 3, 5):
        wobble = wobble + rng.uniform(0.04, 0.14) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    rho = np.hypot(a, b) / (radius * wobble)
    local = np.clip((1.0 - rho) / softness + 0.5, 0.0, 1.0)
    cov[cy - r : cy + r + 1, cx - r : cx + r + 1] = local
    return cov


def _spot(rng: np.random.Generator, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    radius = rng.uniform(2.0, 6.0)
    cov = _irregular_blob(rng, centre, radius, rng.uniform(1.0, 1.6), softness=rng.uniform(0.35, 0.7))
    # Occasionally a faint satellite droplet next to the main spot.
    if rng.random() < 0.3:
        off = rng.standard_normal(2)
        off = off / np.hypot(*off) * radius * rng.uniform(1.3, 1.8)
        cov = np.maximum(cov, _irregular_blob(rng, centre + off, radius * rng.uniform(0.3, 0.5), 1.0, 0.6))
    return cov, _colour(rng, bright=False), rng.uniform(0.7, 0.92)


def _walk(rng: np.random.Generator, start: np.ndarray, theta: float, steps: int, step: float) -> np.ndarray:
    pts = [start]
    heading = theta
    for _ in range(steps):
        heading += rng.normal(0, 0.45) + 0.3 * (theta - heading)  # jagged, but keeps its general direction
        pts.append(pts[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
    return np.array(pts)


def _crack(rng: np.random.Generator, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    theta = rng.uniform(0, 2 * np.pi)
    steps, step = int(rng.integers(16, 34)), rng.uniform(2.0, 3.2)
    main = _walk(rng, np.zeros(2), theta, steps, step)
    main = main - main.mean(axis=0) + centre
    canvas = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    cv2.polylines(canvas, [_fixed(main)], False, 255, 1, cv2.LINE_AA, SHIFT)
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(2, len(main) - 2))
        side = 1 if rng.random() < 0.5 else -1
        branch = _walk(rng, main[at], theta + side * rng.uniform(0.5, 1.1), int(rng.integers(4, 10)), step * 0.9)
        cv2.polylines(canvas, [_fixed(branch)], False, 200, 1, cv2.LINE_AA, SHIFT)
    return canvas / 255.0, _colour(rng, bright=False), rng.uniform(0.8, 0.95)


def _inclusion(rng: np.random.Generator, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    canvas = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        c = centre + rng.normal(0, 2.5, size=2)
        n = int(rng.integers(5, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, size=n))
        rad = rng.uniform(1.2, 3.5, size=n)
        poly = c + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], axis=1)
        cv2.fillPoly(canvas, [_fixed(poly)], 255, cv2.LINE_AA, SHIFT)
    bright = rng.random() < 0.5
    return canvas / 255.0, _colour(rng, bright), rng.uniform(0.8, 0.95)


DRAW = {"scratch": _scratch, "spot": _spot, "crack": _crack, "inclusion": _inclusion}


# ---------------------------------------------------------------------------------------------------------------
# Placement and rendering


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def _overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    c0, r0, c1, r1 = box
    for o0, q0, o1, q1 in others:
        if c0 <= o1 + BOX_GAP and o0 <= c1 + BOX_GAP and r0 <= q1 + BOX_GAP and q0 <= r1 + BOX_GAP:
            return True
    return False


def _place(rng: np.random.Generator, label: str, at_border: bool, taken: list[tuple[int, int, int, int]]):
    """Draw one defect at a random position satisfying the constraints; returns (Defect, alpha, colour)."""
    for _ in range(400):
        if at_border:
            centre = np.array([rng.uniform(-12, WIDTH + 12), rng.uniform(-12, HEIGHT + 12)])
        else:
            centre = np.array([rng.uniform(8, WIDTH - 8), rng.uniform(8, HEIGHT - 8)])
        coverage, colour, strength = DRAW[label](rng, centre)
        coverage[coverage < COVERAGE_THRESHOLD] = 0.0
        full = coverage > 0
        inside = full[PAD : PAD + HEIGHT, PAD : PAD + WIDTH]
        total, visible = int(full.sum()), int(inside.sum())
        if visible == 0:
            continue
        truncated = visible < total
        box = _bounds(inside)
        c0, r0, c1, r1 = box
        touches = c0 == 0 or r0 == 0 or c1 == WIDTH - 1 or r1 == HEIGHT - 1
        if at_border:
            # Cut by the border, but with a reasonable part left in view.
            if not truncated or visible < 0.35 * total or visible > 0.85 * total or min(c1 - c0, r1 - r0) < 2:
                continue
        elif truncated or touches:
            continue
        if _overlaps(box, taken):
            continue
        alpha = coverage[PAD : PAD + HEIGHT, PAD : PAD + WIDTH] * strength
        return Defect(label, inside.copy(), box, truncated), alpha, colour
    return None


def _render(clean: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    out = clean.astype(np.float64)
    for alpha, colour in layers:
        a = alpha[:, :, None]
        out = out * (1.0 - a) + colour[None, None, :] * a
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _plan(rng: np.random.Generator) -> tuple[list[list[str]], set[tuple[int, int]]]:
    """Per image, the list of defect labels (negatives get []); and which (image, index) defects sit on the border."""
    labels = [name for name in CLASSES for _ in range(CLASS_COUNTS[name])]
    labels = [labels[i] for i in rng.permutation(len(labels))]
    positives = N_IMAGES - N_NEGATIVES
    counts = np.ones(positives, dtype=int)
    for _ in range(len(labels) - positives):
        open_ = np.flatnonzero(counts < MAX_PER_IMAGE)
        counts[open_[rng.integers(len(open_))]] += 1
    per_image: list[list[str]] = []
    start = 0
    for n in counts:
        per_image.append(labels[start : start + n])
        start += n
    negative_slots = sorted(rng.choice(N_IMAGES, size=N_NEGATIVES, replace=False).tolist())
    for slot in negative_slots:
        per_image.insert(slot, [])
    border: set[tuple[int, int]] = set()
    used: set[int] = set()
    for name in BORDER_DEFECTS:
        candidates = [
            (i, k) for i, labs in enumerate(per_image) if i not in used for k, lab in enumerate(labs) if lab == name
        ]
        i, k = candidates[rng.integers(len(candidates))]
        border.add((i, k))
        used.add(i)
    return per_image, border


def _split(rng: np.random.Generator, samples: list[Sample]) -> None:
    """Deterministic ~80/20 split; val gets one image per class (rarest first) and a negative, then random ones."""
    order = [int(i) for i in rng.permutation(len(samples))]
    val: list[int] = []
    by_rarity = sorted(CLASSES, key=lambda c: CLASS_COUNTS[c])
    for name in by_rarity:
        if not any(d.label == name for i in val for d in samples[i].defects):
            val.append(next(i for i in order if i not in val and any(d.label == name for d in samples[i].defects)))
    val.append(next(i for i in order if i not in val and not samples[i].defects))
    for i in order:
        if len(val) >= N_VAL:
            break
        if i not in val:
            val.append(i)
    for i, s in enumerate(samples):
        s.split = "val" if i in val else "train"


def generate(seed: int = SEED) -> list[Sample]:
    """Build the whole dataset in memory. Deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    per_image, border = _plan(rng)
    surfaces = ["metal" if i % 2 == 0 else "fabric" for i in range(N_IMAGES)]
    surfaces = [surfaces[i] for i in rng.permutation(N_IMAGES)]
    samples: list[Sample] = []
    for i, labels in enumerate(per_image):
        clean = _background(surfaces[i], rng)
        # Place the big defects first: long scratches and cracks are the hardest to fit without overlaps.
        order = sorted(range(len(labels)), key=lambda k: (CLASSES.index(labels[k]) not in (0, 2), k))
        for _attempt in range(50):
            taken: list[tuple[int, int, int, int]] = []
            placed: dict[int, tuple[Defect, np.ndarray, np.ndarray]] = {}
            for k in order:
                result = _place(rng, labels[k], (i, k) in border, taken)
                if result is None:
                    break
                placed[k] = result
                taken.append(result[0].box)
            if len(placed) == len(labels):
                break
        else:
            raise RuntimeError(f"could not place the defects of image {i}")
        defects = [placed[k][0] for k in range(len(labels))]
        image = _render(clean, [(placed[k][1], placed[k][2]) for k in range(len(labels))])
        samples.append(Sample(f"defect_{i + 1:04d}", surfaces[i], clean, image, defects))
    _split(rng, samples)
    return samples


# ---------------------------------------------------------------------------------------------------------------
# Writing


def voc_xml(sample: Sample) -> str:
    """The VOC annotation. Box (c0, r0, c1, r1), 0-based inclusive pixels, is written 1-based: c0 + 1 .. c1 + 1."""
    lines = [
        "<annotation>",
        f"\t<folder>{FOLDER}</folder>",
        f"\t<filename>{sample.stem}.jpg</filename>",
        "\t<size>",
        f"\t\t<width>{WIDTH}</width>",
        f"\t\t<height>{HEIGHT}</height>",
        "\t\t<depth>3</depth>",
        "\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for d in sample.defects:
        c0, r0, c1, r1 = d.box
        lines += [
            "\t<object>",
            f"\t\t<name>{d.label}</name>",
            "\t\t<pose>Unspecified</pose>",
            f"\t\t<truncated>{int(d.truncated)}</truncated>",
            "\t\t<difficult>0</difficult>",
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{c0 + 1}</xmin>",
            f"\t\t\t<ymin>{r0 + 1}</ymin>",
            f"\t\t\t<xmax>{c1 + 1}</xmax>",
            f"\t\t\t<ymax>{r1 + 1}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def output_files(samples: list[Sample]) -> dict[str, bytes]:
    """Relative path -> file content, for every file the script writes."""
    import io

    files: dict[str, bytes] = {"classes.txt": "".join(f"{c}\n" for c in CLASSES).encode()}
    for s in samples:
        buf = io.BytesIO()
        Image.fromarray(s.image).save(
            buf, format="JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False, progressive=False
        )
        files[f"JPEGImages/{s.stem}.jpg"] = buf.getvalue()
        files[f"Annotations/{s.stem}.xml"] = voc_xml(s).encode()
    for split in ("train", "val"):
        stems = sorted(s.stem for s in samples if s.split == split)
        files[f"ImageSets/Main/{split}.txt"] = "".join(f"{stem}\n" for stem in stems).encode()
    return files


def write(out: Path, samples: list[Sample]) -> list[Path]:
    """Write the dataset under out; returns the written paths."""
    written = []
    for rel, content in sorted(output_files(samples).items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / FOLDER,
        help="output directory (default: samples/defects next to this script)",
    )
    parser.add_argument(
        "--force", action="store_true", help="write into a non-empty directory, overwriting the generated files"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"error: {out} exists and is not a directory", file=sys.stderr)
        return 2
    if out.is_dir() and any(out.iterdir()) and not args.force:
        print(f"error: {out} is not empty; pass --force to overwrite the generated files in it", file=sys.stderr)
        return 2
    samples = generate()
    written = write(out, samples)
    extra = sorted(p for p in out.rglob("*") if p.is_file() and p not in set(written))
    for p in extra:
        print(f"note: {p} was not generated by this script (left in place)", file=sys.stderr)
    boxes = {c: sum(d.label == c for s in samples for d in s.defects) for c in CLASSES}
    negatives = sum(not s.defects for s in samples)
    print(
        f"wrote {len(samples)} images to {out}: "
        + ", ".join(f"{c} {n}" for c, n in boxes.items())
        + f", {negatives} negatives"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
