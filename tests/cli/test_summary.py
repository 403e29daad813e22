"""The terminal summary: counters labelled from the code registry, problems listed with a cap."""

from __future__ import annotations

from bboxaug.cli.summary import SHOWN_PROBLEMS, class_map_lines, count_lines, problem_lines
from bboxaug.core import codes
from bboxaug.core.report import ClassMove, Problem, Report


def test_each_counter_is_labelled_by_its_code() -> None:
    report = Report()
    report.count(codes.CLIPPED, 3)
    report.count("boxes_dropped:min_area", 2)
    report.count(codes.member(codes.SKIPPED_SHAPES, "cuboid"))
    report.count(codes.SKIPPED_ITEMS)  # listed with the skips instead
    report.count(codes.COPIES_WRITTEN, 4)  # each command states its copies itself
    lines = count_lines(report)
    assert [line.split(None, 1)[0] for line in lines] == ["2", "3", "1"]  # by code name; skips and copies not here
    assert lines[0].endswith(codes.BOXES_DROPPED_MIN_AREA.label) and lines[1].endswith(codes.CLIPPED.label)
    assert lines[2].endswith(": cuboid") and codes.SKIPPED_SHAPES.label in lines[2]


def test_problems_are_capped_with_a_pointer_to_the_report() -> None:
    problems = [Problem(f"{k}.png", "image", "image file not found", "missing_image") for k in range(12)]
    lines = problem_lines("skipped", problems)
    assert lines[0].split() == ["skipped", "12"]
    assert len(lines) == 1 + SHOWN_PROBLEMS + 1 and "2 more" in lines[-1]
    assert lines[1].strip() == "0.png: image: image file not found"
    assert problem_lines("warnings", []) == []


def test_the_class_map_line_names_renames_merges_and_drops_only() -> None:
    report = Report()
    assert class_map_lines(report) == []
    report.class_map.update(
        {
            "person": ClassMove(1, None),
            "car": ClassMove(3, "vehicle"),
            "truck": ClassMove(8, "vehicle"),
            "bike": ClassMove(9, "bike"),
            "dog": ClassMove(4, None),
        }
    )
    assert class_map_lines(report) == ["  class map  car -> vehicle, truck -> vehicle; dropped person, dog"]
