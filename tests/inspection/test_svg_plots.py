"""The report's SVG plots: well-formed, names escaped, bars as long as their counts, histogram bars in the bins
their values fall in, a heat-map cell where its point is, log ticks at powers of ten."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import numpy as np
import pytest

from bboxaug.inspection.svg_plots import HEAT_BINS, HEIGHT, MARGIN, Axis, class_bars, heat_map, histogram, scatter

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_class_bars_are_as_long_as_their_counts_in_the_class_colour() -> None:
    svg = parsed(class_bars(["a<b", "spot", "none"], [(255, 0, 0), (0, 0, 255), (0, 255, 0)], [("train", [10, 5, 0])]))
    bars = svg.findall(f".//{SVG}rect")
    assert [bar.get("fill") for bar in bars] == ["#ff0000", "#0000ff"]  # no bar for a count of 0
    widths = [float(bar.get("width") or 0) for bar in bars]
    assert widths[0] == pytest.approx(2 * widths[1])
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "a<b" in texts and "10" in texts and "0" in texts


def test_histogram_bars_sit_in_their_values_bins() -> None:
    svg = parsed(histogram(np.array([5, 5, 5, 5, 95, np.nan]), title="w", x_label="px"))
    path = next(p for p in svg.iter(f"{SVG}path") if p.get("class") == "bars").get("d") or ""
    bars = [tuple(map(float, re.findall(r"[-\d.]+", bar))) for bar in path.split("Z") if bar]
    assert len(bars) == 2
    x = Axis(0, 100, MARGIN[0], MARGIN[0] + 300)  # 95 rounds up to an axis of 0..100
    y = Axis(0, 4, MARGIN[1] + HEIGHT, MARGIN[1])  # the tallest bar (4 values) reaches the top
    (left, base, top, right, _), (left2, _, top2, right2, _) = bars
    assert left <= x(5) <= right and left2 <= x(95) <= right2
    assert top == pytest.approx(y(4), abs=0.1) and base == pytest.approx(y(0), abs=0.1)
    assert (base - top2) == pytest.approx((base - top) / 4, abs=0.1)


def test_a_heat_map_cell_is_where_its_point_is() -> None:
    svg = parsed(heat_map(np.array([0.1]), np.array([0.9]), title="centres", x_label="x", y_label="y"))
    cells = svg.findall(f".//{SVG}rect")
    assert len(cells) == 1
    side = HEIGHT / HEAT_BINS
    assert float(cells[0].get("x") or 0) == pytest.approx(MARGIN[0] + 3 * side, abs=0.05)  # 0.1 * 32 -> bin 3
    assert float(cells[0].get("y") or 0) == pytest.approx(MARGIN[1] + 28 * side, abs=0.05)  # y down: 0.9 -> 28


def test_log_ticks_are_powers_of_ten() -> None:
    axis = Axis(0.01, 100, 0, 400, log=True)
    assert axis.ticks() == [(0.0, "0.01"), (100.0, "0.1"), (200.0, "1"), (300.0, "10"), (400.0, "100")]


def test_scatter_draws_a_seeded_sample_and_labels_its_marks() -> None:
    points = np.random.default_rng(0).uniform(1, 50, size=(5000, 2))
    svg = parsed(scatter(points, title="shapes", x_label="w", y_label="h", marks=[(20.0, 30.0, "0")]))
    assert len(svg.findall(f".//{SVG}circle")) == 2000
    assert "0" in [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "anchor"]
    assert scatter(points, title="s", x_label="w", y_label="h") == scatter(points, title="s", x_label="w", y_label="h")
