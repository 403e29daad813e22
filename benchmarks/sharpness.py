#!/usr/bin/env python3
"""Sharpness: one warp per copy against the chain, on fine detail.

The test picture (`test_picture`) is a checkerboard of 2-pixel squares beside 1-pixel lines (vertical,
horizontal, diagonal): the detail repeated bilinear resampling erases first. A fixed chain of three spatial
transforms (an Affine rotation with scaling, a Perspective and a sheared, rotated Affine, each with p = 1) is run
by the albumentations backend two ways with the same seeds, so with the same parameters:

- chain: the backend transform by transform (three resamplings, each rounded to 8 bits);
- fused: bboxaug's path (the three matrices multiplied, one resampling).

Both are compared with the exact single warp of the original: the same product matrix (recovered from the moved
points) applied once by bilinear interpolation computed in float64 with numpy (no fixed-point coordinates, no
rounding to 8 bits). Scores are over the pixels whose four source neighbours are inside the picture, two pixels
in from that edge: mean absolute error, PSNR, and the variance of the Laplacian (a sharpness figure: the
reference's is what a single exact warp keeps).

    python benchmarks/sharpness.py --seeds 10
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import cv2
import numpy as np

WIDTH, HEIGHT = 320, 240
BORDER = {"border_mode": 0, "fill": 0}
POLICY: dict[str, Any] = {
    "backend": "albumentations",
    "transforms": [
        {"Affine": {"rotate": [8, 14], "scale": [1.05, 1.15], **BORDER, "p": 1.0}},
        {"Perspective": {"scale": [0.04, 0.06], **BORDER, "p": 1.0}},
        {"Affine": {"rotate": [-9, -5], "shear": [4, 6], **BORDER, "p": 1.0}},
    ],
}


def test_picture() -> np.ndarray:
    """RGB uint8: a 2-pixel checkerboard on the left half, 1-pixel lines on the right half, mid-grey between."""
    picture = np.full((HEIGHT, WIDTH), 128, np.uint8)
    ys, xs = np.mgrid[0:HEIGHT, 0 : WIDTH // 2]
    picture[:, : WIDTH // 2] = np.where(((xs // 2) + (ys // 2)) % 2 == 0, 40, 215)
    right = picture[:, WIDTH // 2 :]
    right[:, ::6] = 230  # vertical lines, 1 px wide
    right[::7, :] = 25  # horizontal lines
    for offset in range(-HEIGHT, WIDTH // 2, 9):  # diagonal lines
        rows = np.arange(HEIGHT)
        columns = rows + offset
        inside = (columns >= 0) & (columns < WIDTH // 2)
        right[rows[inside], columns[inside]] = 250
    return np.repeat(picture[:, :, None], 3, axis=2)


def bilinear_float64(picture: np.ndarray, matrix: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The picture warped once by `matrix` (model coordinates) with bilinear interpolation in float64, and the
    mask of output pixels whose four source neighbours all lie inside the picture."""
    inverse = np.linalg.inv(matrix)
    v, u = np.mgrid[0:height, 0:width]
    centres = np.stack([u.ravel() + 0.5, v.ravel() + 0.5, np.ones(u.size)])
    source = inverse @ centres
    x, y = source[0] / source[2] - 0.5, source[1] / source[2] - 0.5  # on pixel centres
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    inside = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < picture.shape[1]) & (y0 + 1 < picture.shape[0])
    x0c, y0c = np.clip(x0, 0, picture.shape[1] - 2), np.clip(y0, 0, picture.shape[0] - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    values = picture.astype(np.float64)
    warped = (
        values[y0c, x0c] * (1 - fx) * (1 - fy)
        + values[y0c, x0c + 1] * fx * (1 - fy)
        + values[y0c + 1, x0c] * (1 - fx) * fy
        + values[y0c + 1, x0c + 1] * fx * fy
    )
    return warped.reshape(height, width, -1), inside.reshape(height, width)


def product_matrix(source_points: np.ndarray, moved_points: np.ndarray) -> np.ndarray:
    matrix, _ = cv2.findHomography(source_points, moved_points, 0)
    return np.asarray(matrix, dtype=np.float64)


def laplacian_variance(picture: np.ndarray, mask: np.ndarray) -> float:
    grey = picture.astype(np.float64).mean(axis=2)
    return float(cv2.Laplacian(grey, cv2.CV_64F)[mask].var())


def measure(seed: int) -> dict[str, float]:
    """Errors and sharpness of the chain and the fused path against the exact single warp, for one seed."""
    from bboxaug.augmentation.backends.albumentations_backend import BACKEND, AlbumentationsPipeline
    from bboxaug.augmentation.policy import load_policy

    policy = load_policy(POLICY)
    fused, chain = BACKEND.build(policy), AlbumentationsPipeline(policy)
    picture = test_picture()
    grid = np.array([[x, y] for x in (10.0, 160.0, 310.0) for y in (10.0, 120.0, 230.0)])
    fused_pixels, moved = fused(picture, grid, np.zeros((0, 4)), seed)
    chain_pixels, chain_moved = chain(picture, grid, np.zeros((0, 4)), seed)
    if not np.allclose(moved, chain_moved, atol=1e-2):
        raise RuntimeError("the fused path and the chain sampled different parameters")
    height, width = fused_pixels.shape[:2]
    reference, inside = bilinear_float64(picture, product_matrix(grid, moved), width, height)
    mask = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    scores: dict[str, float] = {"reference_laplacian_var": laplacian_variance(reference, mask)}
    for name, pixels in (("fused", fused_pixels), ("chain", chain_pixels)):
        error = pixels.astype(np.float64)[mask] - reference[mask]
        scores[f"{name}_mae"] = float(np.abs(error).mean())
        scores[f"{name}_psnr"] = float(10 * np.log10(255.0**2 / np.mean(error**2)))
        scores[f"{name}_laplacian_var"] = laplacian_variance(pixels, mask)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    runs = [measure(seed) for seed in range(args.seeds)]
    print(f"{WIDTH}x{HEIGHT} checkerboard and 1-px lines, three spatial transforms, {args.seeds} seeds (mean)\n")
    print("| path | MAE vs exact single warp | PSNR dB | variance of the Laplacian |")
    print("| --- | ---: | ---: | ---: |")
    mean = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
    print(f"| exact single warp (float64) | 0 | ∞ | {mean['reference_laplacian_var']:.0f} |")
    for name, label in (("fused", "bboxaug, one warp"), ("chain", "chain, three warps")):
        mae, psnr, laplacian = (mean[f"{name}_{key}"] for key in ("mae", "psnr", "laplacian_var"))
        print(f"| {label} | {mae:.2f} | {psnr:.1f} | {laplacian:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
