#!/usr/bin/env python3
"""Codec choices for augmented copies: decode and encode times of OpenCV, simplejpeg and PyTurboJPEG on the
augmentation benchmark's pictures, and PNG compression levels.

Each candidate works as a worker does, from the file's bytes to RGB pixels and back (OpenCV decodes to BGR, so
its rows include the conversion bboxaug needs; simplejpeg and TurboJPEG convert inside libjpeg-turbo). One
thread (`cv2.setNumThreads(1)`, as in bboxaug's workers), best of `--repeat` passes over `--images` pictures.
For each JPEG candidate the script also says whether its pixels equal OpenCV's decode, and whether its encoded
bytes equal OpenCV's encode at the same quality (same quantisation tables, 4:2:0, integer DCT).

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
    """The fastest of `repeat` runs of `function`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def jpeg_candidates() -> dict[str, tuple[Callable[[bytes], np.ndarray], Callable[[np.ndarray], bytes]]]:
    """name -> (decode bytes to RGB, encode RGB to bytes at QUALITY, 4:2:0)."""

    def cv2_decode(data: bytes) -> np.ndarray:
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)

    def cv2_encode(pixels: np.ndarray) -> bytes:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        return bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1])

    candidates = {"opencv": (cv2_decode, cv2_encode)}
    try:
        import simplejpeg

        candidates["simplejpeg"] = (
            lambda data: simplejpeg.decode_jpeg(data, colorspace="RGB"),
            lambda pixels: simplejpeg.encode_jpeg(pixels, QUALITY, colorspace="RGB", colorsubsampling="420"),
        )
    except ImportError:
        print("simplejpeg: not installed")
    try:
        from turbojpeg import TJPF_RGB, TJSAMP_420, TurboJPEG

        turbo = TurboJPEG()
        candidates["PyTurboJPEG"] = (
            lambda data: turbo.decode(data, pixel_format=TJPF_RGB),
            lambda pixels: turbo.encode(pixels, quality=QUALITY, pixel_format=TJPF_RGB, jpeg_subsample=TJSAMP_420),
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
    count = len(pictures)
    print(f"{count} pictures of {pictures[0].shape[1]}x{pictures[0].shape[0]}, best of {args.repeat}, one thread\n")
    print("| codec | decode ms | encode ms (quality 95) | pixels = OpenCV's | bytes = OpenCV's |")
    print("| --- | ---: | ---: | --- | --- |")
    candidates = jpeg_candidates()
    reference_decode, reference_encode = candidates["opencv"]
    for name, (decode, encode) in candidates.items():
        decoded = best_time(lambda decode=decode: [decode(data) for data in sources], args.repeat)
        encoded = best_time(lambda encode=encode: [encode(picture) for picture in pictures], args.repeat)
        same_pixels = all(np.array_equal(decode(data), reference_decode(data)) for data in sources)
        same_bytes = all(encode(picture) == reference_encode(picture) for picture in pictures)
        print(
            f"| {name} | {1000 * decoded / count:.2f} | {1000 * encoded / count:.2f} | "
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
