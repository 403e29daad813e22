#!/usr/bin/env python3
"""Codec choices for augmented copies: decode and encode times of OpenCV, simplejpeg and PyTurboJPEG on the
augmentation benchmark's pictures, and PNG compression levels.

Each candidate works as a worker does, from the file's bytes to pixels and back, in RGB (OpenCV decodes to BGR,
so its RGB rows include the conversion; simplejpeg and TurboJPEG convert inside libjpeg-turbo) and in BGR (the
order a worker keeps when the policy allows). One thread (`cv2.setNumThreads(1)`, as in bboxaug's workers),
CPU time, the least of `--repeat` passes over `--images` pictures, candidates interleaved. For each JPEG
candidate the script also says whether its pixels equal OpenCV's decode, and whether its encoded bytes equal
OpenCV's encode at the same quality setting (accurate DCT, 4:2:0).

    python benchmarks/codecs.py --images 40 --repeat 5

PyTurboJPEG is measured only when its shared library (libturbojpeg) is found.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import augment as augment_benchmark

QUALITY = augment_benchmark.QUALITY


def best_time(function: Callable[[], Any], repeat: int) -> float:
    """The least CPU time (`time.process_time`: one thread, so waits for a busy core do not count) of `repeat`
    runs of `function`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        function()
        times.append(time.process_time() - started)
    return min(times)


def jpeg_candidates() -> dict[str, tuple[Callable[[bytes], np.ndarray], Callable[[np.ndarray], bytes]]]:
    """name -> (decode bytes to pixels, encode pixels to bytes at QUALITY, 4:2:0), in RGB (what a worker works
    in) and in BGR (what it works in when the policy allows, see README "One warp per copy"); accurate DCT."""

    def cv2_decode(data: bytes) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)

    def cv2_encode(pixels: np.ndarray) -> bytes:
        return bytes(cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1])

    candidates = {
        "opencv, RGB": (
            lambda data: cv2.cvtColor(cv2_decode(data), cv2.COLOR_BGR2RGB),
            lambda pixels: cv2_encode(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)),
        ),
        "opencv, BGR": (cv2_decode, cv2_encode),
    }
    try:
        import simplejpeg

        for order in ("RGB", "BGR"):
            candidates[f"simplejpeg, {order}"] = (
                lambda data, order=order: simplejpeg.decode_jpeg(
                    data, colorspace=order, fastdct=False, fastupsample=False
                ),
                lambda pixels, order=order: simplejpeg.encode_jpeg(
                    pixels, QUALITY, colorspace=order, colorsubsampling="420", fastdct=False
                ),
            )
    except ImportError:
        print("simplejpeg: not installed")
    try:
        from turbojpeg import TJPF_BGR, TJPF_RGB, TJSAMP_420, TurboJPEG

        turbo = TurboJPEG()
        for order, layout in (("RGB", TJPF_RGB), ("BGR", TJPF_BGR)):
            candidates[f"PyTurboJPEG, {order}"] = (
                lambda data, layout=layout: turbo.decode(data, pixel_format=layout),
                lambda pixels, layout=layout: turbo.encode(
                    pixels, quality=QUALITY, pixel_format=layout, jpeg_subsample=TJSAMP_420
                ),
            )
    except (ImportError, RuntimeError, OSError) as error:
        print(f"PyTurboJPEG: not measured ({str(error).splitlines()[0]})")
    return candidates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    pictures = [cv2.cvtColor(augment_benchmark.render(index), cv2.COLOR_BGR2RGB) for index in range(args.images)]
    sources = [
        bytes(cv2.imencode(".jpg", picture[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1]) for picture in pictures
    ]
    bgr_pictures = [np.ascontiguousarray(picture[:, :, ::-1]) for picture in pictures]
    count = len(pictures)
    print(f"{count} pictures of {pictures[0].shape[1]}x{pictures[0].shape[0]}, best of {args.repeat}, one thread\n")
    print("| codec, channel order | decode ms | encode ms (quality 95) | pixels = OpenCV's | bytes = OpenCV's |")
    print("| --- | ---: | ---: | --- | --- |")
    candidates = jpeg_candidates()
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in candidates}
    for _ in range(args.repeat):  # candidates interleaved, so a change of the machine's load hits them all
        for name, (decode, encode) in candidates.items():
            order = name.rsplit(" ", 1)[-1]
            inputs = pictures if order == "RGB" else bgr_pictures
            best[name][0] = min(best[name][0], best_time(lambda decode=decode: [decode(d) for d in sources], 1))
            best[name][1] = min(best[name][1], best_time(lambda e=encode, i=inputs: [e(p) for p in i], 1))
    reference_decode, reference_encode = candidates["opencv, BGR"]
    for name, (decode, encode) in candidates.items():
        flip = name.endswith("RGB")
        same_pixels = all(
            np.array_equal(decode(data)[:, :, ::-1] if flip else decode(data), reference_decode(data))
            for data in sources
        )
        same_bytes = all(
            encode(picture if flip else np.ascontiguousarray(picture[:, :, ::-1]))
            == reference_encode(np.ascontiguousarray(picture[:, :, ::-1]))
            for picture in pictures
        )
        print(
            f"| {name} | {1000 * best[name][0] / count:.2f} | {1000 * best[name][1] / count:.2f} | "
            f"{'yes' if same_pixels else 'no'} | {'yes' if same_bytes else 'no'} |"
        )
    print("\n| PNG compression level | encode ms | size KB |")
    print("| ---: | ---: | ---: |")
    for level in (1, 3, 6, 9):
        bgr = [picture[:, :, ::-1] for picture in pictures[: max(1, count // 4)]]
        seconds = best_time(
            lambda level=level, bgr=bgr: [cv2.imencode(".png", p, [cv2.IMWRITE_PNG_COMPRESSION, level]) for p in bgr],
            max(1, args.repeat // 2),
        )
        size = np.mean([len(cv2.imencode(".png", p, [cv2.IMWRITE_PNG_COMPRESSION, level])[1]) for p in bgr])
        print(f"| {level} | {1000 * seconds / len(bgr):.1f} | {size / 1024:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
