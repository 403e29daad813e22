"""Every code bboxaug reports, registered once: what a report, `validate` and the CLI summary say about a problem
or a counter is its code, never its message, so messages can be reworded without changing any report.

A code with a severity ("error" or "warning") names a problem: a skipped item, a warning, a finding. A code
without one is a counter only. Any code can be counted (`size_mismatch` counts the size mismatches warned about).
Call sites use the constants below (`codes.MISSING_IMAGE`); a name that was never registered raises at once.

A name ending in `:*` registers a family whose members are named by the input, such as the Labelme shape types
skipped (`skipped_shapes:point`, or any type a tool invented); each member has the family's severity and label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

FAMILY = ":*"


@dataclass(frozen=True)
class Code:
    """A stable name, the severity of a problem with it (None: a counter only), and a label for people."""

    name: str
    severity: Severity | None
    label: str

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "label": self.label}


CodeLike = Code | str


REGISTRY: dict[str, Code] = {}


def register(name: str, severity: Severity | None, label: str) -> Code:
    """Add a code; each name is registered once."""
    if name in REGISTRY:
        raise ValueError(f"code {name!r} is already registered")
    if severity not in ("error", "warning", None):
        raise ValueError(f"severity of {name!r} must be 'error', 'warning' or None, not {severity!r}")
    code = REGISTRY[name] = Code(name, severity, label)
    return code


def lookup(code: CodeLike) -> Code:
    """The registered code of this name (or this code, checked to be the registered one)."""
    name = code.name if isinstance(code, Code) else code
    found = REGISTRY.get(name) or _family_member(name)
    if found is None or (isinstance(code, Code) and code is not found and code != found):
        raise LookupError(f"unknown code {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return found


def _family_member(name: str) -> Code | None:
    """`name` as a member of a registered family (`skipped_shapes:point` of `skipped_shapes:*`), if it is one."""
    prefix, colon, key = name.partition(":")
    family = REGISTRY.get(prefix + FAMILY) if colon else None
    return None if family is None else Code(name, family.severity, f"{family.label}: {key}")


def member(family: Code, key: str) -> Code:
    """The member `key` of a family registered as `name:*` (e.g. `skipped_shapes:point`)."""
    if not family.name.endswith(FAMILY):
        raise LookupError(f"code {family.name!r} is not a family")
    return lookup(family.name[: -len(FAMILY)] + ":" + key)


def severity_of(code: CodeLike) -> Severity:
    """The severity of a registered code that can name a problem (a counter has none: it raises)."""
    found = lookup(code)
    if found.severity is None:
        raise LookupError(f"code {found.name!r} is a counter, not a problem")
    return found.severity


def problem_code(code: CodeLike) -> str:
    """The name of a registered code that can name a problem."""
    severity_of(code)
    return code.name if isinstance(code, Code) else code


# --- what validate reports, in the order it lists them -----------------------------------------------------

MISSING_IMAGE = register("missing_image", "error", "the annotation names an image file that does not exist")
UNREADABLE_IMAGE = register(
    "unreadable_image", "error", "an image that cannot be read (validate reads headers; with --deep, the pixels)"
)
SIZE_MISMATCH = register("size_mismatch", "error", "declared image sizes that differ from the real, EXIF-oriented size")
OUT_OF_BOUNDS = register("out_of_bounds", "error", "a box reaches outside its image")
DEGENERATE_BOX = register(
    "degenerate_box", "error", "a box has no area (x2 <= x1 or y2 <= y1) or a coordinate that is not finite"
)
UNKNOWN_CLASS = register("unknown_class", "error", "a box's class is not in the class list")
ORPHAN_LABEL = register("orphan_label", "error", "label files without an image: their boxes are never trained on")
UNREADABLE_ANNOTATION = register(
    "unreadable_annotation", "error", "an annotation file or record the reader could not use (it was skipped)"
)
DUPLICATE_IMAGE = register(
    "duplicate_image",
    "warning",
    "images found twice: one file (with --deep, the same pixels) "
    "under two names or listed in two splits; an error across splits (leakage)",
)
NEAR_DUPLICATE = register(
    "near_duplicate",
    "warning",
    "images that look the same (a resized, recompressed or slightly shifted copy: perceptual hash, and the same "
    "boxes); an error across splits (leakage)",
)
DUPLICATE_BOX = register(
    "duplicate_box", "warning", "two boxes of one class in the same place (equal, or IoU above 0.99)"
)
UNUSED_CLASS = register("unused_class", "warning", "a class in the class list has no box")
READER_NOTE = register("reader_note", "warning", "anything else the reader reported")

FINDINGS = (
    MISSING_IMAGE,
    UNREADABLE_IMAGE,
    SIZE_MISMATCH,
    OUT_OF_BOUNDS,
    DEGENERATE_BOX,
    UNKNOWN_CLASS,
    ORPHAN_LABEL,
    UNREADABLE_ANNOTATION,
    DUPLICATE_IMAGE,
    NEAR_DUPLICATE,
    DUPLICATE_BOX,
    UNUSED_CLASS,
    READER_NOTE,
)


# --- what readers say more precisely (validate maps each to one of the above) ------------------------------

UNKNOWN_SIZE = register(
    "unknown_size", "error", "an image whose size is not declared and has no image file to read it from"
)
UNUSABLE_EMBEDDED_IMAGE = register("unusable_embedded_image", "error", "a Labelme imageData that is not a usable image")
MISSING_IMAGES = register(
    "missing_images", "warning", "Labelme files whose image is neither found nor embedded (imageData)"
)
MISSING_SPLIT = register("missing_split", "warning", "split folders or lists named by the dataset but not found")
LISTED_WITHOUT_FILES = register(
    "listed_without_files", "warning", "ids in a split list with neither an annotation file nor an image"
)
CLASS_COUNT_MISMATCH = register(
    "class_count_mismatch", "warning", "the declared number of classes (nc) differs from the class names; the names win"
)
SPLIT_WITHOUT_LABELS = register(
    "split_without_labels", "warning", "a split with no label file for any image: every image is read as a negative"
)
CATEGORIES_DIFFER = register("categories_differ", "warning", "split files with different categories, merged by id")
ANNOTATED_TWICE = register("annotated_twice", "warning", "an image that a second annotation file names too")
IDS_IN_SEVERAL_SPLITS = register(
    "ids_in_several_splits", "warning", "ids in more than one split list, each kept in the first"
)
UNLISTED_ANNOTATIONS = register(
    "unlisted_annotations", "warning", "annotation files in no split list, put in the default split"
)
IGNORED_OBJECT_ELEMENTS = register(
    "ignored_object_elements", "warning", "nested elements of VOC objects (<part>, <actions>) not read"
)
UNSAFE_XML = register(
    "unsafe_xml", "error", "an XML file that declares entities or refers to external files: refused unread"
)
IMAGES_WITHOUT_ANNOTATION = register(
    "images_without_annotation", "warning", "images without an annotation file, not read"
)
NOT_LABELME = register("skipped_files:not_labelme", "warning", "JSON files that are not Labelme's, not read")
OUTSIDE_SPLITS = register(
    "skipped_files:outside_splits", "warning", "Labelme files outside the split folders, not read"
)

MASK_MISSING = register("mask_missing", "error", "a defect image whose mask file is missing (MVTec AD layout)")
MASK_SIZE_MISMATCH = register("mask_size_mismatch", "error", "a mask whose size differs from its image's")
IMAGES_WITHOUT_MASK = register(
    "images_without_mask", "warning", "images without a mask file, read as negatives (images/ + masks/ layout)"
)
MASKS_WITHOUT_IMAGE = register("masks_without_image", "warning", "mask files without an image, not read")
MASK_BELOW_THRESHOLD = register(
    "mask_below_threshold", "warning", "binary masks with values above 0 but all below --threshold, read as background"
)
MASK_UNKNOWN_VALUES = register(
    "mask_unknown_values", "warning", "masks with pixel values or colours not in the class table, read as background"
)


# --- what the other steps say ------------------------------------------------------------------------------

UNWRITABLE_IMAGE = register("unwritable_image", "error", "an image that could not be written to the output")
LABELMAP_NOT_WRITTEN = register(
    "labelmap_not_written",
    "warning",
    "VOC labelmap.txt not written: a class name holds ':' or starts with '#' (classes.txt lists every class)",
)
COPIES_DROPPED = register(
    "copies_dropped", "warning", "copies dropped: they lost every box of a class they were made for"
)
BOXES_WHOLE_IN_NO_TILE = register("boxes_whole_in_no_tile", "warning", "source boxes that lie whole in no written tile")
CLASS_SHORT_IN_SPLIT = register(
    "class_short_in_split",
    "warning",
    "a split with fewer boxes of a class than --min-per-class: too few boxes, or too few groups holding them",
)
KEPT_GROUP_SPLIT = register(
    "kept_group_split",
    "warning",
    "a group of images (one source, duplicates, one --group-by key) that --from-splits keep finds in two kept splits",
)
FEW_INSTANCES = register(
    "few_instances", "warning", "a class with so few distinct instances that balancing repeats the same objects"
)
CONFLICTING_DUPLICATE = register(
    "conflicting_duplicate", "error", "the same image bytes in two merged sources with different boxes"
)
CROP_OUTSIDE_IMAGE = register(
    "crop_outside_image", "error", "an image that the --preprocess crop does not reach (nothing of it would be left)"
)
BOXES_WITHOUT_POLYGON = register(
    "boxes_without_polygon",
    "warning",
    "boxes with no polygon or mask (or none with an area in their image), written in YOLO segment lines as their "
    "box's 4 corners",
)


# --- the other errors, by kind (never an item's skip in practice, but each error carries a code) -----------

BAD_USAGE = register("bad_usage", "error", "options that cannot work together")
BAD_POLICY = register("bad_policy", "error", "an augmentation policy that is malformed")
CLUSTER_UNUSABLE = register("cluster_unusable", "error", "a Dask cluster that cannot be reached or cannot run the work")
WORKER_LOST = register("worker_lost", "error", "a worker process that died before its work was done")


# --- counters --------------------------------------------------------------------------------------------

SKIPPED_ITEMS = register("skipped_items", None, "items skipped (each is listed under skipped)")
CLIPPED = register("clipped", None, "boxes clipped to their image")
DROPPED_DEGENERATE = register("dropped_degenerate", None, "boxes dropped: no area inside the image")
DROPPED_CROWD = register("dropped_crowd", None, "crowd regions dropped (--keep-crowd keeps them)")
RENAMED = register("renamed", None, "images renamed to avoid overwriting (see renamed in the report)")
EXIF_ROTATED = register("exif_rotated", None, "images re-encoded upright (EXIF orientation applied)")
COPIES_WRITTEN = register("copies_written", None, "augmented copies written")
BOXES_DROPPED_INVISIBLE = register("boxes_dropped:invisible", None, "boxes dropped from copies: moved out of sight")
BOXES_DROPPED_MIN_VISIBILITY = register(
    "boxes_dropped:min_visibility", None, "boxes dropped from copies: visible share below min_visibility"
)
BOXES_DROPPED_MIN_AREA = register("boxes_dropped:min_area", None, "boxes dropped from copies: area below min_area")
BOXES_DROPPED_MIN_SIZE = register(
    "boxes_dropped:min_size", None, "boxes dropped from copies: shorter side below min_size"
)
TILES_REJECTED = register("tiles_rejected", None, "tiles rejected: they would cut a box below min_visibility")
NEGATIVE_TILES_SKIPPED = register("negative_tiles_skipped", None, "tiles without boxes left out (--negatives)")
TILE_BOXES_DROPPED = register(
    "tile_boxes_dropped", None, "boxes dropped from tiles: visible share below min_visibility"
)
TILE_BOXES_KEPT_PARTIAL = register(
    "tile_boxes_kept_partial", None, "boxes kept clipped in tiles below min_visibility (--partial keep)"
)
TINY_BOXES_DROPPED = register("tiny_boxes_dropped", None, "boxes dropped: smaller than --min-box-size once resized")
GROUP_PATTERN_UNMATCHED = register(
    "group_pattern_unmatched", None, "images whose name --group-by REGEX does not match (each is its own group)"
)
PREPROCESS_BOXES_DROPPED = register(
    "preprocess_boxes_dropped", None, "boxes dropped: outside the region a --preprocess crop keeps"
)
PREPROCESS_BOXES_CUT = register(
    "preprocess_boxes_cut", None, "boxes cut by a --preprocess crop, kept clipped and marked truncated"
)
PASTE_IMAGES_WRITTEN = register("paste_images_written", None, "copy-paste images written")
OBJECTS_PASTED = register("objects_pasted", None, "objects pasted")
OBB_WRITTEN_UPRIGHT = register(
    "obb_written_upright", None, "oriented boxes written as their enclosing upright box: the target has no oriented box"
)
KEYPOINTS_DROPPED = register("keypoints_dropped", None, "boxes read without their keypoints (YOLO pose labels)")
COCO_ANNOTATIONS_SKIPPED = register("coco_annotations_skipped", None, "COCO annotations skipped with their image")
COCO_IMAGE_IDS_ASSIGNED = register("coco_image_ids_assigned", None, "COCO image ids numbered anew")
COCO_ANNOTATION_IDS_ASSIGNED = register("coco_annotation_ids_assigned", None, "COCO annotation ids numbered anew")
COCO_CATEGORY_IDS_ASSIGNED = register("coco_category_ids_assigned", None, "COCO category ids numbered anew")
SKIPPED_SHAPES = register("skipped_shapes" + FAMILY, None, "Labelme shapes skipped (no box), by type")
IGNORED_SPLIT_LISTS = register(
    "ignored_split_lists", None, "VOC split lists ignored: the union of other lists (trainval)"
)
IMAGE_NOT_FOUND = register("image_not_found", None, "VOC images not found, read with their declared <size>")
SIZE_FROM_IMAGE = register("size_from_image", None, "VOC sizes read from the image, <size> missing or invalid")
MERGE_DUPLICATES = register(
    "merge_duplicates", None, "images merged once: the same bytes and boxes as an earlier source's image"
)
MERGE_RENAMED = register(
    "merge_renamed", None, "images renamed in a merge: an earlier source has an image of that split and name"
)
MERGE_CLASSES_ALIGNED = register(
    "merge_classes_aligned", None, "classes joined to an earlier source's class spelled otherwise (case, spaces)"
)
LISTED_WITHOUT_ANNOTATION = register(
    "listed_without_annotation", None, "ids in a split list without an annotation file, read as negatives"
)
BOXES_DROPPED_CLASS = register(
    "boxes_dropped:class", None, "boxes dropped: their class was dropped (class map, --keep-classes, --drop-classes)"
)
BOXES_DROPPED_MIN_BOX_SIZE = register(
    "boxes_dropped:min_box_size", None, "boxes dropped: width or height below --min-box-size"
)
BOXES_DROPPED_MIN_BOX_AREA = register("boxes_dropped:min_box_area", None, "boxes dropped: area below --min-box-area")
NEGATIVES_DROPPED = register("negatives_dropped", None, "images without boxes dropped (--negatives)")
CLASSES_DROPPED_EMPTY = register("classes_dropped:empty", None, "classes dropped: no box left (--drop-empty-classes)")
COMPONENTS_DROPPED_MIN_AREA = register(
    "components_dropped:min_area", None, "mask components dropped: fewer pixels than --min-area"
)
MASK_FILLED_BOXES = register(
    "mask_filled_boxes", None, "boxes without a polygon or mask, written to masks as filled rectangles"
)
MASK_OVERLAPS = register("mask_overlaps", None, "instances written to masks over part of another (larger) one")

YOLO_LINES = register("yolo_lines" + FAMILY, None, "YOLO label lines written, by task")
POLYGONS_FROM_MASKS = register(
    "polygons_from_masks", None, "RLE masks written as polygons (the outer contours of their pixels)"
)
MASK_HOLES_FILLED = register(
    "mask_holes_filled", None, "masks written as polygons without their holes (a YOLO polygon has none)"
)
POLYGON_RINGS_JOINED = register(
    "polygon_rings_joined", None, "instances of several polygons written as one ring, joined by short connecting edges"
)
POLYGONS_CLIPPED = register("polygons_clipped", None, "polygons cut to their image when written")
POLYGON_POINTS_MERGED = register(
    "polygon_points_merged", None, "polygon vertices left out when written: equal to the one before once rounded"
)
MASKS_MOVED = register("masks_moved", None, "RLE masks moved with their region (decoded, moved, encoded again)")
BOXES_DROPPED_EMPTY_MASK = register(
    "boxes_dropped:empty_mask", None, "boxes dropped: their RLE mask kept no pixel once moved"
)
