"""Copy-paste: a pasted box is exactly the bounds of the pasted pixels, pastes keep clear of the boxes already in
an image (measured from the pixels), colours are matched to the new place, and every choice follows the seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from bboxaug.balancing.paste import (
    MAX_COVER,
    MAX_IOU,
    Paster,
    cut,
    object_mask,
    pasted_boxes,
    place_objects,
)
from bboxaug.balancing.paste_pixels import match_colours, paste_objects
from bboxaug.core.model import Boxes, ImageRecord, object_column
from bboxaug.io.masks import decode_rle
from bboxaug.io.pixels import read_picture
from tests.augmentation.oracle import COLOURS, Scene, iou, measured_box, scene_dataset

L_SHAPE = 4  # colour index of the RLE object


def l_shape_mask(height: int, width: int) -> np.ndarray:
    """An L (asymmetric, so a flip shows) at rows 20..59, columns 130..159 of a (height, width) image."""
    mask = np.zeros((height, width), bool)
    mask[20:60, 130:140] = True
    mask[50:60, 130:160] = True
    return mask


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageRecord, ImageRecord]:
    """A source holding a rectangle (box only), an ellipse (polygon) and an L (RLE mask), and a black host with
    two boxes."""
    root = tmp_path_factory.mktemp("paste")
    dataset = scene_dataset(
        [
            Scene("src.png", 180, 100, (("rect", 0, (10, 12, 50, 40)), ("ellipse", 2, (60, 30, 110, 90)))),
            Scene("host.png", 260, 200, (("rect", 1, (20, 20, 60, 60)), ("rect", 3, (150, 120, 200, 170)))),
        ],
        root,
    )
    source, host = dataset.images
    pixels = np.asarray(Image.open(source.source)).copy()
    mask = l_shape_mask(100, 180)
    pixels[mask] = COLOURS[L_SHAPE]
    Image.fromarray(pixels).save(source.source)
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    boxes = Boxes(
        np.vstack([source.boxes.xyxy, [[130, 20, 160, 60]]]),
        [0, 2, L_SHAPE],
        {"segmentation": object_column([*source.boxes.column("segmentation"), rle])},
    )
    return source.replace(boxes=boxes), host


def colour_of(row: int) -> int:
    return (0, 2, L_SHAPE)[row]


def test_object_masks_come_from_polygons_and_rle(scene: tuple[ImageRecord, ImageRecord]) -> None:
    source, _ = scene
    x0, y0, mask = object_mask(source.boxes.column("segmentation")[2], 180, 100)
    assert (x0, y0, mask.shape) == (130, 20, (40, 30))
    assert np.array_equal(mask, l_shape_mask(100, 180)[20:60, 130:160])
    x0, y0, mask = object_mask(source.boxes.column("segmentation")[1], 180, 100)
    assert (x0, y0, mask.shape[1], mask.shape[0]) == (60, 30, 50, 60)  # the ellipse fills its box
    assert object_mask(None, 180, 100) is None
    assert cut(source, 0).mask is None and cut(source, 0).size == (40, 28)


def test_a_pasted_box_is_exactly_the_pasted_pixels(scene: tuple[ImageRecord, ImageRecord]) -> None:
    source, host = scene
    host_pixels = read_picture(host.source).pixels
    sources = {"train/src.png": read_picture(source.source).pixels}
    placed, flips = {0: 0, 1: 0, 2: 0}, set()
    for seed in range(30):
        for row in range(3):
            placements = place_objects(host, [cut(source, row)], seed, 1)
            if not placements:
                continue
            placement = placements[0]
            out = paste_objects(host_pixels, host.boxes.xyxy, placements, sources)
            measured, _ = measured_box(out, colour_of(row))
            assert measured == placement.box, f"seed {seed} row {row}"
            placed[row] += 1
            if row == 2:
                flips.add(placement.flip)
                # the L's pixels are exactly its RLE mask in the host (flipped or not)
                rle = pasted_boxes(host.boxes, placements, (host.width, host.height)).columns["segmentation"][-1]
                colour = np.abs(out.astype(int) - COLOURS[L_SHAPE]).max(axis=2) <= 60
                decoded = decode_rle(rle)
                assert np.array_equal(decoded, colour)
                ys, xs = np.nonzero(decoded)
                assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == placement.box
            # at most MAX_COVER of each host box is hidden
            for (x1, y1, x2, y2), label in zip(host.boxes.xyxy, host.boxes.labels, strict=True):
                assert measured_box(out, int(label))[1] >= (1 - MAX_COVER) * (x2 - x1) * (y2 - y1)
    assert min(placed.values()) >= 15, placed
    assert flips == {False, True}


def test_pastes_keep_clear_of_existing_boxes_measured_from_pixels(scene: tuple[ImageRecord, ImageRecord]) -> None:
    source, _ = scene
    rng = np.random.default_rng(0)
    noise = rng.integers(40, 200, (100, 180, 3), dtype=np.uint8)
    grid = np.array([[x, y, x + 20, y + 16] for x in (10, 80, 150) for y in (10, 66)], np.float64)
    host = ImageRecord("noisy.png", "train", 180, 100, Boxes(grid, np.zeros(len(grid), int)))
    sources = {"train/src.png": read_picture(source.source).pixels}

    def worst(max_iou: float, max_cover: float) -> tuple[float, float, int]:
        highest_iou = highest_cover = 0.0
        count = 0
        for seed in range(20):
            placements = place_objects(
                host, [cut(source, row) for row in (0, 1, 2, 0)], seed, 1, max_iou=max_iou, max_cover=max_cover
            )
            changed = (paste_objects(noise, grid, placements, sources) != noise).any(axis=2)
            boxes = [tuple(b) for b in grid]
            for placement in placements:
                highest_iou = max([highest_iou, *(iou(placement.box, b) for b in boxes)])
                boxes.append(placement.box)
                count += 1
            for x1, y1, x2, y2 in grid.astype(int):
                highest_cover = max(highest_cover, changed[y1:y2, x1:x2].mean())
        return highest_iou, highest_cover, count

    highest_iou, highest_cover, count = worst(MAX_IOU, MAX_COVER)
    assert count >= 20
    assert highest_iou < MAX_IOU
    assert 0 < highest_cover <= MAX_COVER
    loose_iou, loose_cover, _ = worst(1.0, 1.0)  # the same measurement sees overlaps when they are allowed
    assert loose_iou > MAX_IOU and loose_cover > MAX_COVER


def test_colours_are_matched_to_the_new_place(tmp_path: Path) -> None:
    blue, orange = (20, 30, 120), (220, 140, 40)
    source_pixels = np.zeros((80, 80, 3), np.uint8) + np.array(blue, np.uint8)
    source_pixels[35:45, 35:45] = 255
    Image.fromarray(source_pixels).save(tmp_path / "s.png")
    source = ImageRecord("s.png", "train", 80, 80, Boxes([[25, 25, 55, 55]], [0]), tmp_path / "s.png")
    rng = np.random.default_rng(1)
    host_pixels = np.clip(np.array(orange) + rng.normal(0, 6, (120, 160, 3)), 0, 255).astype(np.uint8)
    host = ImageRecord("h.png", "train", 160, 120, Boxes.empty())
    placements = place_objects(host, [cut(source, 0)], 3, 1)
    out = paste_objects(host_pixels, host.boxes.xyxy, placements, {"train/s.png": source_pixels})
    x1, y1, x2, y2 = (int(v) for v in placements[0].box)
    patch = out[y1:y2, x1:x2].reshape(-1, 3).astype(float)
    background = np.median(patch, axis=0)  # most of the cut is the source's background
    assert np.abs(background - orange).max() < 15, background
    assert patch.sum(axis=1).max() > background.sum() + 150  # the white dot still stands out, much brighter
    lab = np.random.default_rng(2).normal(50, 10, (4, 4, 3))
    spread = lab.reshape(-1, 3).std(0)
    matched = match_colours(lab, (lab.reshape(-1, 3).mean(0), spread), (np.array([60.0, 5, -5]), np.array([12, 6, 40])))
    assert np.allclose(matched.reshape(-1, 3).mean(0), [60, 5, -5])
    # each channel's spread is mapped onto the target's, scaled by no less than 0.5 and no more than 2
    assert np.allclose(matched.reshape(-1, 3).std(0), spread * np.clip(np.array([12, 6, 40]) / spread, 0.5, 2.0))
    assert np.allclose(matched.reshape(-1, 3).std(0)[0], 12)


def test_placement_follows_the_seed(scene: tuple[ImageRecord, ImageRecord]) -> None:
    source, host = scene
    cutouts = [cut(source, row) for row in range(3)]
    first = [p.box for p in place_objects(host, cutouts, 5, 2)]
    assert first == [p.box for p in place_objects(host, cutouts, 5, 2)]
    others = [[p.box for p in place_objects(host, cutouts, seed, 2)] for seed in range(6, 10)]
    assert any(boxes != first for boxes in others)
    assert first != [p.box for p in place_objects(host, cutouts, 5, 3)]  # the next paste image differs


def test_pasted_boxes_keep_the_host_rows_and_add_exact_rows(scene: tuple[ImageRecord, ImageRecord]) -> None:
    source, host = scene
    host_boxes = Boxes(host.boxes.xyxy, host.boxes.labels, {"difficult": [True, False], "source_id": [7, 8]})
    placements = place_objects(host.replace(boxes=host_boxes), [cut(source, 0), cut(source, 1)], 0, 1)
    assert len(placements) == 2
    boxes = pasted_boxes(host_boxes, placements, (host.width, host.height))
    assert np.array_equal(boxes.xyxy[:2], host.boxes.xyxy)
    assert boxes.columns["difficult"].tolist() == [True, False, False, False]
    assert "source_id" not in boxes.columns  # the annotation ids belong to the original host
    assert np.array_equal(boxes.xyxy[2:], np.array([p.box for p in placements]))
    assert boxes.labels.tolist() == [*host.boxes.labels.tolist(), 0, 2]
    segmentation = boxes.columns["segmentation"]
    assert segmentation[2] is None and isinstance(segmentation[3], dict)  # box cut / polygon mask
    assert boxes.columns["area"][3] == placements[1].mask.sum()


def test_the_paster_uses_objects_in_turn_never_crowd_nor_the_hosts_own() -> None:
    xyxy = [[10, 10, 30, 30], [40, 40, 60, 60]]
    images = [
        ImageRecord(f"{k}.png", "train", 100, 100, Boxes(xyxy, [1, 1], {"iscrowd": [k == 0, False]}), Path(f"{k}.png"))
        for k in range(3)
    ]
    images.append(ImageRecord("empty.png", "train", 100, 100, Boxes.empty(), Path("empty.png")))
    paster = Paster(images, 2, seed=0)
    assert paster.pastable.tolist() == [False, True]
    used = [paster._next(1, 1) for _ in range(4)]
    assert [(c.key, c.row) for c in used] == [
        ("train/0.png", 1),
        ("train/2.png", 0),
        ("train/2.png", 1),
        ("train/0.png", 1),
    ]
    assert paster(3, [1, 1]) == [1, 1] and paster.jobs[0][:2] == (3, 1)
