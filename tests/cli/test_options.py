"""The options the commands share are declared once: every command that has one has the same flags, type and
default, and its help says the same thing."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bboxaug.cli.main import main
from tests.cli.test_convert import assert_same_boxes, read_voc, write_voc
from tests.commands.test_tile import grid_starts

SHARED = (
    "--from",
    "--image-dir",
    "--to",
    "--task",
    "--on-error",
    "--quality",
    "--preprocess",
    "--jobs",
    "--scheduler",
    "--overwrite",
    "--quiet",
)
# Shared options whose help has no per-command part (--jobs, --on-error and --quality name what they apply to).
SAME_HELP = ("--from", "--image-dir", "--task", "--preprocess", "--scheduler", "--overwrite")
WRITERS = ("convert", "augment", "balance", "tile", "resize", "split")


def option(command: click.Command, flag: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and flag in p.opts), None)


def having(flag: str) -> list[str]:
    return sorted(name for name, command in main.commands.items() if option(command, flag) is not None)


def wide_help(command: str) -> str:
    """The command's --help with each option on one line."""
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=1000, max_content_width=1000)
    assert result.exit_code == 0, result.output
    return result.output


def help_line(command: str, flag: str) -> str:
    lines = [line for line in wide_help(command).splitlines() if re.match(rf"\s+(-\w, )?{flag}\b", line)]
    assert len(lines) == 1, (command, flag, lines)
    return lines[0]


def declaration(parameter: click.Option) -> tuple:
    default = parameter.default
    return (
        parameter.opts,
        parameter.secondary_opts,
        parameter.type.to_info_dict(),
        parameter.is_flag,
        default.__qualname__ if callable(default) else default,
        parameter.show_default,
        parameter.envvar,
    )


def test_the_commands_that_read_and_write_a_dataset_share_every_option() -> None:
    for flag in SHARED:
        assert set(WRITERS) <= set(having(flag)), flag
    assert "merge" in having("--task")


def test_task_offers_every_task_a_format_writes() -> None:
    assert list(option(main.commands["convert"], "--task").type.choices) == ["detect", "obb", "segment"]  # type: ignore[union-attr]


@pytest.mark.parametrize("command", WRITERS)
def test_a_wrong_preprocess_step_is_one_line_naming_it_before_anything_is_read(command: str, tmp_path: Path) -> None:
    size = ["--size", "64"] if command in ("tile", "resize") else []
    to = ["--to", "yolo"] if command == "convert" else []
    args = [command, str(tmp_path), str(tmp_path / "out"), *size, *to, "--preprocess", "clahe;crop:10,20"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output == "error: --preprocess: step 2 'crop:10,20': crop needs x1,y1\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", SHARED)
def test_a_shared_option_is_the_same_option_everywhere(flag: str) -> None:
    commands = having(flag)
    assert commands, f"no command has {flag}"
    declarations = {name: declaration(option(main.commands[name], flag)) for name in commands}
    first = declarations[commands[0]]
    assert all(each == first for each in declarations.values()), declarations
    if flag in SAME_HELP:
        assert len({option(main.commands[name], flag).help for name in commands}) == 1


@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_shows_each_shared_option_once(command: str) -> None:
    text = wide_help(command)
    for flag in SHARED:
        count = len(re.findall(rf"^\s+(-\w, )?{flag}(?![\w-])", text, re.M))  # --from, not --from-splits
        assert count == (option(main.commands[command], flag) is not None), (command, flag)


@pytest.mark.parametrize("command", having("--jobs"))
def test_jobs_defaults_to_every_core_this_process_may_use(command: str) -> None:
    assert "every core" in help_line(command, "--jobs")
    jobs = option(main.commands[command], "--jobs")
    assert jobs.get_default(click.Context(main.commands[command])) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("command", sorted(set(having("--jobs")) - set(having("--scheduler"))))
def test_jobs_help_names_scheduler_only_where_the_command_has_it(command: str) -> None:
    assert "--scheduler" not in help_line(command, "--jobs")


# --- the class operations and filters: declared once, offered on every command that reads a dataset --------

READERS_OF_A_DATASET = ("convert", "augment", "balance", "tile", "resize", "stats", "validate", "preview")
SELECTION = ("--class-map", "--keep-classes", "--drop-classes", "--min-box-size", "--min-box-area", "--negatives")
#: Commands with an option of that name of their own, measured on what they make: tile's --negatives decides on
#: tiles, resize's --min-box-size on resized boxes.
OWN = {("tile", "--negatives"), ("resize", "--min-box-size")}


@pytest.mark.parametrize("flag", [*SELECTION, "--drop-empty-classes"])
def test_every_command_that_reads_a_dataset_has_the_class_operations_and_filters(flag: str) -> None:
    assert set(READERS_OF_A_DATASET) <= set(having(flag)), flag
    shared = [name for name in having(flag) if (name, flag) not in OWN]
    declarations = {name: declaration(option(main.commands[name], flag)) for name in shared}
    first = declarations[shared[0]]
    assert all(each == first for each in declarations.values()), declarations
    assert len({option(main.commands[name], flag).help for name in shared}) == 1


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_augment_applies_the_class_step_and_filters_to_originals_and_copies(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    src = write_voc(tmp_path / "src")
    result = invoke(
        "augment", src, dst, "--policy", "light", "-j", "1", "--drop-classes", "crack", "--min-box-area", 300
    )
    assert result.exit_code == 0, result.output
    written = read_voc(dst)
    originals = {key: boxes for key, boxes in written.items() if "_aug" not in key[1]}
    assert_same_boxes(
        originals, {("train", "a.png"): [("scratch", 4, 6, 20, 30)], ("train", "b.png"): [], ("val", "c.png"): []}
    )
    assert {box[0] for boxes in written.values() for box in boxes} == {"scratch"}
    manifest = json.loads((dst / "augment.json").read_text())
    assert manifest["counts"]["boxes_dropped:class"] == 2
    assert [(row["name"], row["to"]) for row in manifest["class_map"]] == [("scratch", "scratch"), ("crack", None)]
    assert "boxes dropped: their class was dropped" in result.output


def test_tile_applies_the_class_map_and_min_box_size_before_cutting(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text("scratch: damage\ncrack: damage\n")
    dst = tmp_path / "out"
    src = write_voc(tmp_path / "src")
    result = invoke("tile", src, dst, "--size", 32, "-j", "1", "--class-map", map_file, "--min-box-size", 20)
    assert result.exit_code == 0, result.output
    manifest = json.loads((dst / "tiles.json").read_text())
    assert manifest["counts"]["boxes_dropped:min_box_size"] == 1  # the 16 px wide scratch
    assert manifest["source_boxes"]["total"] == 2
    assert [row["to"] for row in manifest["class_map"]] == ["damage", "damage"]
    offsets = {tile["image"].split("/", 1)[1]: (tile["source"], tile["offset"]) for tile in manifest["tiles"]}
    cracks = {"train/a.png": (30, 10, 64, 47), "val/c.png": (0, 0, 25, 50)}
    boxes = [(key, box) for key, found in read_voc(dst).items() for box in found]
    assert boxes and {box[0] for _, box in boxes} == {"damage"}
    for (_, name), (_, x1, y1, x2, y2) in boxes:  # each tile box is its source crack, clipped to the tile
        source, (dx, dy) = offsets[name]
        sx1, sy1, sx2, sy2 = cracks[source]
        assert (x1 + dx, y1 + dy) == (pytest.approx(max(sx1, dx)), pytest.approx(max(sy1, dy))), name
        assert (x2 + dx, y2 + dy) == (pytest.approx(min(sx2, dx + 32)), pytest.approx(min(sy2, dy + 32))), name


def test_stats_counts_the_classes_as_the_class_step_and_filters_leave_them(tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text("scratch: damage\ncrack: damage\n")
    src = write_voc(tmp_path / "src")
    result = invoke("stats", src, "--json", "-", "--anchors", 0, "--class-map", map_file, "--negatives", "drop")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["classes"] == {"damage": {"images": 2, "boxes": 3}}
    assert (figures["images"], figures["negatives"]) == (2, 0)
    assert figures["report"]["counts"] == {"negatives_dropped": 1}


@pytest.mark.parametrize("command", ["validate", "preview"])
def test_validate_and_preview_read_through_the_same_class_step(command: str, tmp_path: Path) -> None:
    args = [command, write_voc(tmp_path / "src"), *([tmp_path / "p.png"] if command == "preview" else [])]
    result = invoke(*args, "--keep-classes", "dent")
    assert result.exit_code == 2
    assert "error: --keep-classes: unknown classes dent; known: scratch, crack" in result.output
    assert invoke(*args, "--keep-classes", "crack").exit_code == 0


def test_a_resumed_run_refuses_other_class_operations_or_filters(tmp_path: Path) -> None:
    src = write_voc(tmp_path / "src")
    assert invoke("augment", src, tmp_path / "whole", "--policy", "light", "-j", 1, "-q").exit_code == 0
    manifest = json.loads((tmp_path / "whole" / "augment.json").read_text())
    settings = ("bboxaug", "source", "from", "to", "class_ops", "filters", "preprocess", "policy", "seed", "copies")
    settings += ("originals", "augmented_splits")
    staging = tmp_path / ".out.partial"
    staging.mkdir()
    (staging / "run.json").write_text(json.dumps({key: manifest[key] for key in (*settings, "quality")}))
    args = ("augment", src, tmp_path / "out", "--policy", "light", "--resume")
    result = invoke(*args, "--drop-classes", "crack", "--negatives", "drop")
    assert result.exit_code == 2
    assert "cannot resume: the interrupted run used other class_ops, filters;" in result.output
    assert (manifest["class_ops"], manifest["filters"]) == (None, None)


def test_a_resumed_run_with_the_same_class_operations_and_filters_goes_on(tmp_path: Path) -> None:
    """The settings read back from run.json (JSON lists, floats) equal those of the same options again."""
    src = write_voc(tmp_path / "src")
    selection = ("--keep-classes", "scratch,crack", "--drop-classes", "crack", "--negatives", "0.5")
    whole = invoke("augment", src, tmp_path / "whole", "--policy", "light", "-j", 1, "-q", *selection)
    assert whole.exit_code == 0, whole.output
    manifest = json.loads((tmp_path / "whole" / "augment.json").read_text())
    assert manifest["class_ops"] == {"class_map": {}, "keep_classes": ["scratch", "crack"], "drop_classes": ["crack"]}
    staging = tmp_path / ".out.partial"
    staging.mkdir()
    settings = ("bboxaug", "source", "from", "to", "class_ops", "filters", "preprocess", "policy", "seed", "copies")
    settings += ("originals", "augmented_splits")
    (staging / "run.json").write_text(json.dumps({key: manifest[key] for key in (*settings, "quality")}))
    resumed = invoke("augment", src, tmp_path / "out", "--policy", "light", "-j", 1, "-q", "--resume", *selection)
    assert resumed.exit_code == 0, resumed.output
    assert read_voc(tmp_path / "out") == read_voc(tmp_path / "whole")


@pytest.mark.parametrize("value", ["drop", "keep"])
def test_tile_negatives_takes_keep_and_drop_too_and_decides_on_tiles(value: str, tmp_path: Path) -> None:
    """b.png (80x40) has no box: every tile of its grid is a tile without boxes."""
    dst = tmp_path / "out"
    result = invoke("tile", write_voc(tmp_path / "src"), dst, "--size", 32, "-j", 1, "-q", "--negatives", value)
    assert result.exit_code == 0, result.output
    negatives = [name for (_, name), boxes in read_voc(dst).items() if not boxes]
    grid = len(grid_starts(80, 32, 0.2)) * len(grid_starts(40, 32, 0.2))
    if value == "keep":
        assert sorted(name for name in negatives if name.startswith("b_")) == sorted(
            f"b_{x}_{y}.png" for x in grid_starts(80, 32, 0.2) for y in grid_starts(40, 32, 0.2)
        )
        assert len(negatives) >= grid
    else:
        assert negatives == []
        assert json.loads((dst / "tiles.json").read_text())["counts"]["negative_tiles_skipped"] >= grid
