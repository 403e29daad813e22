"""The class colours stay apart for colour-blind readers: every pair of the palette, seen with normal vision and
through Machado et al.'s (2009) simulations of protanopia, deuteranopia and tritanopia at full severity, is at
least `MIN_DELTA_E` CIEDE2000 apart. The simulation matrices and the colour difference are colour-science's."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from bboxaug.inspection.drawing import PALETTE, class_colour

with warnings.catch_warnings():  # colour-science warns on import that matplotlib, which it can plot with, is absent
    warnings.simplefilter("ignore")
    import colour

#: About the difference between two neighbouring named colours (a red and an orange); the palette before this
#: check had pairs 1.6 apart under protanopia (cream and mint) and 2.0 under deuteranopia (yellow and lime).
MIN_DELTA_E = 10.0

VISIONS = ("normal", "Protanomaly", "Deuteranomaly", "Tritanomaly")


def seen_as(colours: np.ndarray, vision: str) -> np.ndarray:
    """CIELAB of sRGB colours (0-255) as a reader with `vision` sees them: Machado's matrix acts on linear RGB."""
    linear = colour.models.eotf_sRGB(colours / 255.0)
    if vision != "normal":
        with warnings.catch_warnings():  # the tritanomaly matrices come with a note on how they were made
            warnings.simplefilter("ignore")
            matrix = colour.blindness.matrix_cvd_Machado2009(vision, 1.0)
        linear = np.clip(linear @ matrix.T, 0.0, 1.0)
    xyz = colour.RGB_to_XYZ(linear, colour.RGB_COLOURSPACES["sRGB"], apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz)


@pytest.mark.parametrize("vision", VISIONS)
def test_every_pair_of_class_colours_stays_apart(vision: str) -> None:
    lab = seen_as(np.array(PALETTE, dtype=np.float64), vision)
    closest = min(
        (float(colour.delta_E(lab[a], lab[b], method="CIE 2000")), a, b)
        for a, b in itertools.combinations(range(len(PALETTE)), 2)
    )
    assert closest[0] >= MIN_DELTA_E, f"{vision}: colours {closest[1]} and {closest[2]} are {closest[0]:.1f} apart"


def test_the_simulation_tells_a_known_confusion() -> None:
    """The check can fail: red and green, told apart with normal vision, fall together under deuteranopia."""
    red_green = np.array([(200, 60, 40), (90, 150, 40)], dtype=np.float64)
    normal, deutan = seen_as(red_green, "normal"), seen_as(red_green, "Deuteranomaly")
    assert colour.delta_E(normal[0], normal[1], method="CIE 2000") > 30
    assert colour.delta_E(deutan[0], deutan[1], method="CIE 2000") < MIN_DELTA_E


def test_class_colours_cycle_through_the_palette() -> None:
    assert [class_colour(k) for k in range(len(PALETTE))] == list(PALETTE)
    assert class_colour(len(PALETTE) + 2) == PALETTE[2]
