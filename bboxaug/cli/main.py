"""The `bboxaug` command group: every command joins it here, and bboxaug's errors become one-line messages
with exit code 1 (data) or 2 (usage); click's own usage errors exit 2 too."""

from __future__ import annotations

from typing import Any

import click

from bboxaug.cli.augment import augment_command
from bboxaug.cli.balance import balance_command
from bboxaug.cli.convert import convert_command, formats_command
from bboxaug.cli.inspect import preview_command, report_command, stats_command, validate_command
from bboxaug.cli.merge import merge_command
from bboxaug.cli.split import split_command
from bboxaug.cli.tile import resize_command, tile_command
from bboxaug.core.errors import BboxaugError
from bboxaug.core.version import __version__
from bboxaug.runtime.memory import release_freed_arrays


class BboxaugGroup(click.Group):
    """Turns bboxaug errors and OS errors raised by any command into a one-line message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BboxaugError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(error.exit_code)
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"error: {where}{error.strerror or error}", err=True)
            ctx.exit(1)


@click.group(cls=BboxaugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bboxaug")
def main() -> None:
    """Prepare object-detection datasets offline: convert between COCO, Pascal VOC, YOLO and Labelme without
    losing an image, a class or a pixel of a box; merge datasets in any mix of formats; augment with boxes that
    follow the pixels; balance rare classes; tile large images; split into train/val/test; and look at the data
    (stats, validate, preview, and all three on one HTML page: report)."""
    release_freed_arrays()


for _command in (
    formats_command,
    convert_command,
    augment_command,
    balance_command,
    tile_command,
    resize_command,
    merge_command,
    split_command,
    stats_command,
    validate_command,
    preview_command,
    report_command,
):
    main.add_command(_command)
