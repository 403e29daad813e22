"""The options the commands share, each declared once: how a source is read (SRC, --from, --image-dir,
--on-error, and the masks reader's --class, --threshold, --mask-classes, --connectivity, --min-area), which of
it is used (the class operations and filters), which splits are changed (--splits), how an output is written
(DST, --to, --task, --quality, --images, --preprocess, --overwrite), and how the work runs (--jobs, --scheduler,
--quiet)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bboxaug.core.errors import UsageError
from bboxaug.core.splits import TRAIN, split_names
from bboxaug.formats import FORMATS
from bboxaug.io.files import IMAGE_MODES
from bboxaug.preprocessing.steps import Preprocessing
from bboxaug.runtime.parallel import usable_cores

F = TypeVar("F", bound=Callable[..., Any])

FORMAT_CHOICE = click.Choice(sorted(FORMATS))


def _apply(command: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        command = option(command)
    return command


def jobs_option(about: str = "image work", *, scheduler: bool = False) -> Callable[[F], F]:
    """--jobs: parallel workers, every core this process may use unless told; `scheduler` when the command has
    --scheduler too."""
    local = " With --scheduler local: the local cluster's worker processes." if scheduler else ""
    return click.option(
        "--jobs",
        "-j",
        type=int,
        default=usable_cores,
        show_default="every core this process may use",
        help=f"Parallel workers for {about} (-1: every core).{local}",
    )


def on_error_option(about: str = "unreadable image") -> Callable[[F], F]:
    """--on-error: what a malformed annotation or bad image does to the run."""
    return click.option(
        "--on-error",
        type=click.Choice(["fail", "skip"]),
        default="fail",
        show_default=True,
        help=f"On a malformed annotation or {about}: stop, or skip the item and report it.",
    )


QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")

OVERWRITE = click.option(
    "--overwrite", is_flag=True, help="Replace DST if it exists (only once the new output is complete)."
)

IMAGES = click.option(
    "--images",
    type=click.Choice(IMAGE_MODES),
    default="copy",
    show_default=True,
    help="How images reach DST: copied, hard-linked, symlinked, or not at all (annotations only).",
)

#: Every task some format writes (YOLO: detect, segment, obb), from the registry: a task a format adds is offered here.
TASKS = sorted({task for fmt in FORMATS.values() for task in fmt.tasks})

TASK = click.option(
    "--task",
    type=click.Choice(TASKS),
    help="What the labels written hold, for formats that say it (YOLO: detect = boxes, segment = polygons, "
    "obb = oriented boxes). Default: obb when every box has an oriented box, else segment when every box has a "
    "polygon or mask, else detect.",
)

KEEP_CROWD = click.option(
    "--keep-crowd", is_flag=True, help="Write COCO iscrowd regions as boxes in formats without crowd."
)


def parse_preprocess(ctx: click.Context, param: click.Parameter, value: str | None) -> Preprocessing:
    """--preprocess read once into its steps; a mistake is a one-line usage error naming the step (exit 2)."""
    try:
        return Preprocessing.parse(value or "")
    except UsageError as error:
        raise UsageError(f"--preprocess: {error.message}") from None


PREPROCESS = click.option(
    "--preprocess",
    metavar="STEPS",
    callback=parse_preprocess,
    help="Deterministic steps applied to every image of every split before anything else, boxes following, "
    "names kept, recorded in the manifest: e.g. 'clahe:clip=2,grid=8;grayscale;crop:0,0,1280,720;letterbox:640' "
    "(steps: clahe, grayscale, autocontrast, crop, resize, letterbox; see the README).",
)


def _split_names(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    return split_names(values) or (TRAIN,)


def splits_option(action: str) -> Callable[[F], F]:
    """--splits: the splits a command changes (`action` says how), train unless told; the others are written as
    they are."""
    return click.option(
        "--splits",
        multiple=True,
        callback=_split_names,
        metavar="NAMES|all",
        help=f"Splits to {action}, comma-separated or repeated, or 'all' (default: train; a dataset with one "
        "split only is its own train split); the others are written as they are.",
    )


def copy_options(command: F) -> F:
    """--seed and --resume, shared by the commands that make augmented copies (augment, balance)."""
    return _apply(
        command,
        [
            click.option(
                "--seed", type=int, default=0, show_default=True, help="Same seed, same bytes, whatever --jobs is."
            ),
            click.option("--resume", is_flag=True, help="Finish an interrupted run with the same settings."),
        ],
    )


#: The masks format's reader options: (parameter name, its click option). Handed to the command together as
#: `read_options`, a dict of those given.
MASK_READ_OPTIONS = (
    (
        "class_name",
        click.option(
            "--class",
            "class_name",
            metavar="NAME",
            help="masks: the class of binary masks in images/ + masks/ (default: foreground).",
        ),
    ),
    (
        "threshold",
        click.option(
            "--threshold",
            type=click.IntRange(1, 65535),
            help="masks: a binary mask's foreground is a value of at least this (default: 128, so anti-aliased "
            "edges count as half).",
        ),
    ),
    (
        "mask_classes",
        click.option(
            "--mask-classes",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            metavar="FILE",
            help="masks: YAML class table of indexed masks ('1: crack') or colour masks ('\"#ff0000\": crack'); "
            "0 and black are background (default: mask_classes.yaml beside the masks, if there is one).",
        ),
    ),
    (
        "connectivity",
        click.option(
            "--connectivity",
            type=click.Choice(["4", "8"]),
            help="masks: pixels touching at a side (4) or also at a corner (8) are one instance (default: 8).",
        ),
    ),
    (
        "min_area",
        click.option(
            "--min-area",
            type=click.IntRange(min=0),
            help="masks: leave out (and count) components of fewer pixels than this (default: 0, keep all).",
        ),
    ),
)


def reader_options(command: F) -> F:
    """The format's own reader options (today the masks format's), handed to the command as `read_options`:
    a dict of the options given (the reader refuses them if SRC's format takes none)."""

    @functools.wraps(command)
    def run(*args: Any, **params: Any) -> Any:
        given = {name: params.pop(name) for name, _ in MASK_READ_OPTIONS}
        if given["connectivity"] is not None:
            given["connectivity"] = int(given["connectivity"])
        read_options = {name: value for name, value in given.items() if value is not None}
        return command(*args, read_options=read_options or None, **params)

    return _apply(run, [option for _, option in MASK_READ_OPTIONS])  # type: ignore[return-value]  # a _Wrapped


def source_options(command: F) -> F:
    """SRC and how to read it: --from, --image-dir and the format's own reader options (`reader_options`)."""
    return _apply(
        reader_options(command),
        [
            click.argument("src", type=click.Path(exists=True, path_type=Path)),
            click.option("--from", "fmt_from", type=FORMAT_CHOICE, help="Format of SRC (detected when not given)."),
            click.option(
                "--image-dir",
                type=click.Path(exists=True, file_okay=False, path_type=Path),
                help="Where the images are, when not where SRC's layout puts them.",
            ),
        ],
    )


def dataset_options(
    *,
    to_required: bool = False,
    quality_of: str | None = "the images written",
    on_error_about: str = "unreadable image",
) -> Callable[[F], F]:
    """SRC, DST and every option a command that reads one dataset and writes another shares. `quality_of` says
    what --quality applies to (None: no --quality); `on_error_about` names the image problem --on-error decides
    on besides malformed annotations. With --scheduler the command runs on a Dask cluster."""
    to_help = "Format to write." if to_required else "Format to write (default: SRC's)."
    options: list[Callable[[Any], Any]] = [
        source_options,
        click.argument("dst", type=click.Path(path_type=Path)),
        click.option("--to", "to", type=FORMAT_CHOICE, required=to_required, help=to_help),
        TASK,
    ]
    if quality_of is not None:
        options.append(
            click.option(
                "--quality",
                type=click.IntRange(1, 100),
                default=95,
                show_default=True,
                help=f"JPEG/WebP quality of {quality_of}.",
            )
        )
    options += [
        PREPROCESS,
        on_error_option(on_error_about),
        jobs_option(scheduler=True),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            envvar="BBOXAUG_SCHEDULER",
            show_envvar=True,
            help="Run the image work on the Dask scheduler at ADDRESS (tcp://host:8786), or on a new "
            "cluster on this machine with 'local'. SRC and DST must be on storage every worker "
            "mounts at the same path. Needs pip install 'bboxaug[dask]'.",
        ),
        OVERWRITE,
        QUIET,
    ]

    def decorate(command: F) -> F:
        return _apply(on_scheduler(command), options)

    return decorate


def on_scheduler(command: F) -> F:
    """The command as given, or, when --scheduler names a Dask scheduler, run inside
    `bboxaug.runtime.cluster.use_scheduler`: SRC, DST and --image-dir made absolute (workers may start
    elsewhere), and the workers checked to see them before any work. A dry run stays on this machine."""

    @functools.wraps(command)
    def run(*args: Any, scheduler: str | None, **params: Any) -> Any:
        if not scheduler or params.get("dry_run"):
            return command(*args, **params)
        from bboxaug.runtime.cluster import describe, use_scheduler

        for name in ("src", "dst", "image_dir"):
            if params.get(name) is not None:
                params[name] = params[name].absolute()
        reads = [path for path in (params["src"], params.get("image_dir")) if path is not None]
        with use_scheduler(scheduler, reads=reads, writes=params["dst"], workers=params["jobs"]) as client:
            if not params["quiet"]:
                click.echo(describe(client), err=True)
            return command(*args, **params)

    return run  # type: ignore[return-value]  # functools.wraps' stubs give a _Wrapped, not the F it wraps


def negatives_share(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """A --negatives value (keep, drop or a share) as the share kept; anything else is a usage error."""
    from bboxaug.pipeline.filters import parse_negatives

    try:
        return parse_negatives(value)
    except UsageError as error:
        raise click.BadParameter(error.message) from None


def selection_options(*, negatives: bool = True, min_box_size: bool = True) -> Callable[[F], F]:
    """The class operations (--class-map, --keep-classes, --drop-classes) and the filters (--min-box-size,
    --min-box-area, --negatives, --drop-empty-classes), handed to the command as `class_ops` (a `ClassOps` or
    None) and `filters` (a `Filters` or None). The negatives kept are chosen by the command's --seed when it has
    one. A command with a --negatives or --min-box-size of its own (tile's tiles, resize's resized boxes) leaves
    the filter's out."""
    options: list[Callable[[Any], Any]] = [
        click.option(
            "--class-map",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="YAML/JSON mapping of class name to a new name (rename; one name for several classes merges "
            "them), null (drop) or an output id (renumber).",
        ),
        click.option("--keep-classes", metavar="A,B", help="Keep only these classes (named as after --class-map)."),
        click.option("--drop-classes", metavar="A,B", help="Drop these classes and their boxes."),
    ]
    if min_box_size:
        options.append(
            click.option(
                "--min-box-size",
                type=click.FloatRange(min=0.0),
                default=0.0,
                help="Drop boxes whose width or height is under this many pixels.",
            )
        )
    options.append(
        click.option(
            "--min-box-area",
            type=click.FloatRange(min=0.0),
            default=0.0,
            help="Drop boxes whose area is under this many square pixels.",
        )
    )
    if negatives:
        options.append(
            click.option(
                "--negatives",
                default="keep",
                show_default=True,
                callback=negatives_share,
                metavar="keep|drop|SHARE",
                help="Images without boxes (once the classes and boxes are filtered): keep them, drop them, "
                "or keep this share of them per split (chosen by --seed).",
            )
        )
    options.append(
        click.option(
            "--drop-empty-classes", is_flag=True, help="Remove classes left without boxes; the others are renumbered."
        )
    )

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **params: Any) -> Any:
            from bboxaug.pipeline.classes import ClassOps
            from bboxaug.pipeline.filters import Filters

            class_ops = ClassOps.of(params.pop("class_map"), params.pop("keep_classes"), params.pop("drop_classes"))
            filters = Filters(
                min_box_size=params.pop("min_box_size") if min_box_size else 0.0,
                min_box_area=params.pop("min_box_area"),
                negatives=params.pop("negatives") if negatives else 1.0,
                drop_empty_classes=params.pop("drop_empty_classes"),
                seed=params.get("seed", 0),
            )
            return command(*args, class_ops=class_ops, filters=filters if filters.active else None, **params)

        return _apply(run, options)  # type: ignore[return-value]  # functools.wraps' stubs give a _Wrapped

    return decorate
