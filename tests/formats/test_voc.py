"""The Pascal VOC adapter: XML text <-> boxes, split lists, class files, every layout it reads, its writer, and
real data.

Expected coordinates are computed here independently (the stdlib parser and the 1-based inclusive rule
`x1 = xmin - 1, x2 = xmax`), never only counted.
"""

from __future__ import annotations

import pickle
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bboxaug.core.errors import AnnotationError, FormatError, ImageError
from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord, object_column
from bboxaug.core.report import Report
from bboxaug.formats import FORMATS, voc
from tests.conftest import make_image


def xml(
    objects: str = "",
    *,
    filename: str | None = "a.jpg",
    size: str | None = "<size><width>40</width><height>30</height><depth>3</depth></size>",
) -> str:
    head = f"<filename>{filename}</filename>" if filename is not None else ""
    return f"<annotation>{head}{size or ''}{objects}</annotation>"


def obj(name: str = "cat", box: tuple = (1, 2, 10, 20), extra: str = "") -> str:
    xmin, ymin, xmax, ymax = box
    return (
        f"<object><name>{name}</name>{extra}<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


def parse(text: str) -> voc.VocAnnotation:
    return voc.parse_annotation(text, file="a.xml")


def stdlib_boxes(path: Path) -> tuple[str, int, int, list[tuple[str, list[float]]]]:
    """(filename, width, height, [(name, model xyxy)]) of a VOC file, with xml.etree and the rule by hand."""
    root = ET.parse(path).getroot()
    boxes = []
    for element in root.iter("object"):
        box = element.find("bndbox")
        xmin, ymin, xmax, ymax = (float(box.find(tag).text) for tag in ("xmin", "ymin", "xmax", "ymax"))
        x1 = xmin - 1 if xmax > xmin else xmax  # equal corners: a click without a drag, zero extent
        y1 = ymin - 1 if ymax > ymin else ymax
        boxes.append((element.find("name").text, [x1, y1, xmax, ymax]))
    return (root.findtext("filename"), int(root.findtext("size/width")), int(root.findtext("size/height")), boxes)


def write_voc(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# --- one XML file ---------------------------------------------------------------------------------------------


def test_corners_are_one_based_inclusive() -> None:
    parsed = parse(xml(obj(box=(1, 1, 40, 30)) + obj("dog", (3, 4, 10, 12))))
    np.testing.assert_array_equal(parsed.xyxy, [[0, 0, 40, 30], [2, 3, 10, 12]])
    assert parsed.names == ["cat", "dog"]
    assert (parsed.filename, parsed.width, parsed.height) == ("a.jpg", 40, 30)


def test_float_corners_use_the_same_formula() -> None:
    parsed = parse(xml(obj(box=("10.5", " 20.25 ", "30.75", "40.0"))))
    np.testing.assert_allclose(parsed.xyxy, [[9.5, 19.25, 30.75, 40.0]], rtol=0, atol=1e-12)


def test_equal_corners_are_read_as_zero_extent() -> None:
    """BCCD's xmin == xmax boxes are clicks without a drag: zero area, so conversion drops and counts them."""
    np.testing.assert_array_equal(parse(xml(obj(box=(504, 337, 504, 337)))).xyxy, [[504, 337, 504, 337]])
    np.testing.assert_array_equal(parse(xml(obj(box=(10, 5, 10, 9)))).xyxy, [[10, 4, 10, 9]])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["xmin", "ymin", "xmax", "ymax", "zmin"]),
            st.sampled_from(["3", " 7.5 ", "12", "0", "-2", "1e308", "nan", "x", ""]),
        ),
        max_size=5,
    )
)
def test_quick_corner_path_gives_the_full_rules_answer(children: list[tuple[str, str]]) -> None:
    bndbox = ET.fromstring("<bndbox>" + "".join(f"<{tag}>{text}</{tag}>" for tag, text in children) + "</bndbox>")
    quick = voc._usual_corners(bndbox)
    try:
        full = voc.voc_corners(bndbox, file="a.xml", field="object[1]/bndbox")
    except AnnotationError:
        full = None
    assert quick is None or quick == full
    if [tag for tag, _ in children] == ["xmin", "ymin", "xmax", "ymax"] and full is not None:
        assert quick == full, "the usual layout takes the quick path"


def test_one_pixel_sides_are_written_two_pixels_long() -> None:
    """Equal corners would read back as nothing, so a 1 px side is widened to 2 px rather than lost."""
    np.testing.assert_array_equal(voc.voc_integers(np.array([[3.0, 4.0, 4.0, 9.0]])), [[4, 5, 5, 9]])
    np.testing.assert_array_equal(voc.voc_integers(np.array([[3.0, 4.0, 5.0, 9.0]])), [[4, 5, 5, 9]])


def test_flags_accept_numbers_words_and_empty_text() -> None:
    extra = "<truncated>true</truncated><difficult> 1 </difficult><occluded/>"
    parsed = parse(xml(obj(extra=extra) + obj(extra="<truncated>No</truncated><difficult>0</difficult>")))
    assert parsed.columns["truncated"] == [True, False]
    assert parsed.columns["difficult"] == [True, False]
    assert parsed.columns["occluded"] == [False, False]


def test_flag_columns_exist_only_when_some_object_has_the_flag() -> None:
    parsed = parse(xml(obj() + obj(extra="<difficult>1</difficult>")))
    assert parsed.columns == {"difficult": [False, True]}


def test_bad_flag_names_object_and_field() -> None:
    with pytest.raises(AnnotationError) as error:
        parse(xml(obj() + obj(extra="<difficult>maybe</difficult>")))
    assert (error.value.file, error.value.field) == ("a.xml", "object[2]/difficult")


def test_pose_other_simple_elements_and_nested_ones() -> None:
    extra = "<pose>Left</pose><score>0.9</score><part><name>head</name></part><actions><x>1</x></actions>"
    parsed = parse(xml(obj(extra=extra) + obj(extra="<pose>Unspecified</pose>") + obj()))
    assert parsed.columns["attributes"] == [{"pose": "Left", "score": "0.9"}, None, None]
    assert parsed.ignored == ["part", "actions"]


def test_unspecified_pose_alone_adds_no_column() -> None:
    assert "attributes" not in parse(xml(obj(extra="<pose>Unspecified</pose>"))).columns


@pytest.mark.parametrize(
    ("objects", "field"),
    [
        (
            obj() + "<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>",
            "object[2]/name",
        ),
        (obj() + obj(name="  "), "object[2]/name"),
        (obj() + obj(box=("1O", 2, 3, 4)), "object[2]/bndbox/xmin"),
        (obj(box=(1, 2, "nan", 4)), "object[1]/bndbox/xmax"),
        (obj(box=(1, 2, 3, "inf")), "object[1]/bndbox/ymax"),
        (obj(box=(1, "", 3, 4)), "object[1]/bndbox/ymin"),
        ("<object><name>a</name></object>", "object[1]/bndbox"),
        (
            "<object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox></object>",
            "object[1]/bndbox/ymax",
        ),
    ],
)
def test_bad_objects_name_the_field(objects: str, field: str) -> None:
    with pytest.raises(AnnotationError) as error:
        parse(xml(objects))
    assert error.value.file == "a.xml" and error.value.field == field


def test_malformed_xml_and_wrong_root_name_the_file() -> None:
    with pytest.raises(AnnotationError, match="malformed") as error:
        parse("<annotation><object></annotation>")
    assert error.value.file == "a.xml"
    with pytest.raises(AnnotationError, match="expected <annotation>"):
        parse("<doc/>")


@pytest.mark.parametrize(
    "document",
    [
        '<!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>'
        "<annotation><filename>&y;</filename></annotation>",
        '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation><filename>&x;</filename></annotation>',
    ],
)
def test_entities_and_external_references_are_refused(document: str) -> None:
    with pytest.raises(AnnotationError, match="unsafe"):
        parse(document)


def tree(element: ET.Element) -> tuple:
    """An element's tag, text and tail and its children's, recursively (attributes left out: VOC reads none)."""
    return element.tag, element.text, element.tail, [tree(child) for child in element]


def parsed_or_error(parse: Callable[[bytes], ET.Element], data: bytes) -> tuple | str:
    try:
        return tree(parse(data))
    except AnnotationError as error:
        return error.message


def defused_only(data: bytes) -> ET.Element:
    """parse_xml's defusedxml branch alone, the reference for the C parser's fast path."""
    parser = voc._Parser()
    try:
        parser.feed(data)
        return parser.close()
    except Exception as error:
        raise AnnotationError(f"malformed or unsafe XML ({type(error).__name__}: {error})") from None


_TEXT = st.sampled_from(["", "x", " 12 ", "\n\t", "&amp;", "&#60;", "é", "&lt;b&gt;", "&nope;", "<", "]]>"])
_TAGS = st.sampled_from(["annotation", "object", "name", "bndbox", "a", "b:c", "xml-x"])
_ELEMENTS = st.recursive(
    st.builds(lambda tag, text: f"<{tag}>{text}</{tag}>", _TAGS, _TEXT),
    lambda children: st.builds(
        lambda tag, attribute, kids, tail: f"<{tag}{attribute}>{''.join(kids)}</{tag}>{tail}",
        _TAGS,
        st.sampled_from(["", ' a="1"', ' xml:lang="en"', ' a="&amp;"']),
        st.lists(children, max_size=3),
        _TEXT,
    ),
    max_leaves=8,
)
_HEADS = st.sampled_from(
    [
        "",
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="utf-8"?>\n',
        "<?xml version='1.0' encoding='UTF-8'?>",
        "<?pi data?>",
        "\ufeff",
        "  ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(_HEADS, _ELEMENTS, st.sampled_from(["", "\n", "<?pi?>", "<x/>"]))
def test_c_parser_path_reads_what_defusedxml_reads(head: str, body: str, end: str) -> None:
    data = (head + body + end).encode("utf-8")
    assert voc.has_no_dtd(data)
    assert parsed_or_error(lambda d: voc.parse_xml(d, file=None), data) == parsed_or_error(defused_only, data)


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"<annotation/>", True),
        (b'<?xml version="1.0" encoding="UTF-8"?><annotation/>', True),
        (b"<!DOCTYPE annotation><annotation/>", False),
        (b"<annotation><!-- a comment --></annotation>", False),
        ('<?xml version="1.0" encoding="UTF-16"?><annotation/>'.encode("utf-16"), False),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><annotation/>', False),
        (b'<annotation xmlns="http://example.com/voc"/>', False),
        ("<annotation/>", False),
    ],
)
def test_only_documents_certainly_without_a_dtd_skip_defusedxml(data: bytes | str, plain: bool) -> None:
    assert voc.has_no_dtd(data) == plain


def test_entities_are_refused_in_utf16_too() -> None:
    document = '<!DOCTYPE a [<!ENTITY x "xx">]><annotation><filename>&x;</filename></annotation>'
    with pytest.raises(AnnotationError, match="unsafe"):
        voc.parse_xml(document.encode("utf-16"), file="a.xml")


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("<size><width>640</width><height>480</height></size>", (640, 480)),
        ("<size><width>640.0</width><height> 480 </height></size>", (640, 480)),
        ("<size><width>0</width><height>0</height></size>", (None, None)),
        ("<size><width>640</width></size>", (None, None)),
        ("<size><width>64.5</width><height>48</height></size>", (None, None)),
        ("<size><width>big</width><height>48</height></size>", (None, None)),
        (None, (None, None)),
    ],
)
def test_declared_size(size: str | None, expected: tuple) -> None:
    parsed = parse(xml(size=size))
    assert (parsed.width, parsed.height) == expected


def test_negative_image_and_absent_filename() -> None:
    parsed = parse(xml(filename=None, size=None))
    assert parsed.filename is None and parsed.names == [] and parsed.xyxy.shape == (0, 4)


# --- lists and class files ------------------------------------------------------------------------------------


def test_split_list_lines() -> None:
    assert voc.parse_split_list("\n# a comment\n2007_000001\n  sub/b  1\nc -1\n") == ["2007_000001", "sub/b", "c"]


def test_class_lists_beside_split_lists_are_not_splits() -> None:
    stems = ["train", "val", "trainval", "cat_train", "train_trainval", "traffic_light_val", "test"]
    assert voc.main_lists(stems) == ["test", "train", "trainval", "val"]
    assert voc.main_lists(["cat_trainval", "trainval"]) == ["trainval"]


def test_labelmap_and_classes_files() -> None:
    assert voc.parse_labelmap("# label:color_rgb:parts:actions\nbackground:0,0,0::\ncat:64,0,0:tail:jump\n\n") == [
        "background",
        "cat",
    ]
    assert voc.parse_class_names("RBC\n\nWBC \n#1\n") == ["RBC", "WBC", "#1"]


def test_union_list_is_ignored() -> None:
    assignment, ignored, shared = voc.resolve_splits(
        {"train": ["a", "b"], "val": ["c"], "trainval": ["a", "b", "c"], "test": ["d"], "all": ["a", "b", "c", "d"]}
    )
    assert ignored == ["all", "trainval"]
    assert assignment == {"a": "train", "b": "train", "c": "val", "d": "test"}
    assert not shared


def test_ids_in_two_lists_go_to_the_first_by_order() -> None:
    assignment, ignored, shared = voc.resolve_splits(
        {"zeta": ["a", "e"], "test": ["a", "b"], "val": ["b", "c"], "train": ["c", "d"], "alpha": ["e"]}
    )
    assert ignored == []
    assert assignment == {"c": "train", "d": "train", "b": "val", "a": "test", "e": "alpha"}
    assert shared == Counter({("train", "val"): 1, ("val", "test"): 1, ("test", "zeta"): 1, ("alpha", "zeta"): 1})


def test_identical_lists_are_both_kept() -> None:
    assignment, ignored, shared = voc.resolve_splits({"val": ["a"], "test": ["a"]})
    assert (assignment, ignored, shared) == ({"a": "val"}, [], Counter({("val", "test"): 1}))


# --- writing text ---------------------------------------------------------------------------------------------


def image(
    name: str = "a.jpg", boxes: Boxes | None = None, split: str = "train", width: int = 40, height: int = 30
) -> ImageRecord:
    return ImageRecord(name, split, width, height, boxes if boxes is not None else Boxes.empty())


def test_written_xml_is_the_documented_text() -> None:
    boxes = Boxes([[0, 0, 40, 30], [2.4, 3.6, 9.5, 12.5]], [1, 0], {"difficult": [False, True]})
    text = voc.format_annotation(image("sub/a.jpg", boxes), ["cat", "dog &amp; co"])
    t = "\t"
    assert text == (
        f"<annotation>\n{t}<folder>JPEGImages</folder>\n{t}<filename>a.jpg</filename>\n{t}<size>\n"
        f"{t}{t}<width>40</width>\n{t}{t}<height>30</height>\n{t}{t}<depth>3</depth>\n{t}</size>\n"
        f"{t}<segmented>0</segmented>\n"
        f"{t}<object>\n{t}{t}<name>dog &amp; co</name>\n{t}{t}<pose>Unspecified</pose>\n"
        f"{t}{t}<truncated>0</truncated>\n{t}{t}<difficult>0</difficult>\n{t}{t}<bndbox>\n"
        f"{t}{t}{t}<xmin>1</xmin>\n{t}{t}{t}<ymin>1</ymin>\n{t}{t}{t}<xmax>40</xmax>\n{t}{t}{t}<ymax>30</ymax>\n"
        f"{t}{t}</bndbox>\n{t}</object>\n"
        f"{t}<object>\n{t}{t}<name>cat</name>\n{t}{t}<pose>Unspecified</pose>\n"
        f"{t}{t}<truncated>0</truncated>\n{t}{t}<difficult>1</difficult>\n{t}{t}<bndbox>\n"
        f"{t}{t}{t}<xmin>3</xmin>\n{t}{t}{t}<ymin>5</ymin>\n{t}{t}{t}<xmax>10</xmax>\n{t}{t}{t}<ymax>12</ymax>\n"
        f"{t}{t}</bndbox>\n{t}</object>\n</annotation>\n"
    )


def test_text_is_escaped_as_xml_requires() -> None:
    assert voc.escape("R&D <x> &amp;") == "R&amp;D &lt;x&gt; &amp;amp;"
    assert "<filename>a&amp;b.jpg</filename>" in voc.format_annotation(image("sub/a&b.jpg"), [])


def test_rounding_rule() -> None:
    np.testing.assert_array_equal(
        voc.voc_integers([[0.4, 2.6, 9.4, 11.6], [-0.3, 0, 40, 30]]), [[1, 4, 9, 12], [1, 1, 40, 30]]
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 390), st.floats(0, 390), st.floats(2, 100), st.floats(2, 100)), max_size=6),
    st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_text_round_trip_moves_corners_by_at_most_half_a_pixel(corners: list, flags: list) -> None:
    """Any box with sides of 2 px or more (VOC cannot hold less, see test_one_pixel_sides_...)."""
    xywh = np.array(corners, dtype=float).reshape(-1, 4)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    boxes = Boxes(xyxy, [0] * len(xyxy), {"difficult": flags[: len(xyxy)]})
    parsed = parse(voc.format_annotation(image(boxes=boxes, width=501, height=501), ["cat"]))
    np.testing.assert_allclose(parsed.xyxy, xyxy, rtol=0, atol=0.5)
    assert np.array_equal(parsed.xyxy, np.rint(xyxy)), "what is read back is the rounded corners"
    assert parsed.columns.get("difficult", []) == flags[: len(xyxy)]
    assert parsed.names == ["cat"] * len(xyxy)


def test_occluded_pose_and_simple_attributes_are_written_back() -> None:
    attributes = object_column(
        [{"pose": "Left", "score": "0.9", "bad key": 1, "nested": {"a": 1}, "xmlx": "no", "flag": True}, None]
    )
    boxes = Boxes([[0, 0, 5, 5], [1, 1, 6, 6]], [0, 0], {"occluded": [True, False], "attributes": attributes})
    root = ET.fromstring(voc.format_annotation(image(boxes=boxes), ["cat"]))
    first, second = root.findall("object")
    assert [child.tag for child in first] == [
        "name",
        "pose",
        "truncated",
        "difficult",
        "occluded",
        "score",
        "flag",
        "bndbox",
    ]
    assert (first.findtext("pose"), first.findtext("score"), first.findtext("flag")) == ("Left", "0.9", "1")
    assert (second.findtext("pose"), second.findtext("occluded")) == ("Unspecified", "0")


def test_no_occluded_element_without_the_column() -> None:
    text = voc.format_annotation(image(boxes=Boxes([[0, 0, 5, 5]], [0])), ["cat"])
    assert "occluded" not in text and "<truncated>0</truncated>" in text


def test_negative_image_text() -> None:
    root = ET.fromstring(voc.format_annotation(image("n.png", width=8, height=6), ["cat"]))
    assert root.findall("object") == [] and root.findtext("size/width") == "8" and root.findtext("filename") == "n.png"


def test_keys_and_image_paths() -> None:
    assert voc.annotation_key("val", "sub/a.b.JPG") == "sub/a.b"
    assert voc.annotation_key("train", "sub/.hidden") == "sub/.hidden"
    assert voc.image_path("val", "sub/a.jpg") == "JPEGImages/sub/a.jpg"
    assert FORMATS["voc"].tolerance(image()) == 0.5


# --- reading folders ------------------------------------------------------------------------------------------


def test_standard_layout_with_subfolders_lists_and_unlisted_files(tmp_path: Path) -> None:
    make_image(tmp_path / "JPEGImages" / "sub" / "a.png", 40, 30)
    make_image(tmp_path / "JPEGImages" / "listed.png", 12, 10)
    write_voc(
        tmp_path,
        {
            "Annotations/sub/a.xml": xml(obj(box=(2, 3, 40, 30)), filename="a.png"),
            "Annotations/b.xml": xml(obj("dog"), filename="b.jpg"),
            "Annotations/c.xml": xml(filename="c.jpg"),
            "ImageSets/Main/train.txt": "sub/a\n",
            "ImageSets/Main/val.txt": "b\nlisted\nghost\n",
            "ImageSets/Main/cat_train.txt": "sub/a 1\n",
        },
    )
    report = Report()
    dataset = voc.read(tmp_path, report=report)
    got = {(i.split, i.name): i for i in dataset.images}
    assert sorted(got) == [("default", "c.jpg"), ("train", "sub/a.png"), ("val", "b.jpg"), ("val", "listed.png")]
    np.testing.assert_array_equal(got[("train", "sub/a.png")].boxes.xyxy, [[1, 2, 40, 30]])
    assert got[("train", "sub/a.png")].source == tmp_path / "JPEGImages" / "sub" / "a.png"
    assert got[("val", "b.jpg")].source is None and (got[("val", "b.jpg")].width, got[("val", "b.jpg")].height) == (
        40,
        30,
    )
    listed = got[("val", "listed.png")]
    assert (listed.width, listed.height, len(listed.boxes)) == (12, 10, 0)
    assert report.counts["unlisted_annotations"] == 1
    assert report.counts["listed_without_annotation"] == 1
    assert report.counts["listed_without_files"] == 1
    assert any(w.field == "ghost" for w in report.warnings)
    assert dataset.class_names == ["dog", "cat"], "files are read in sorted id order: b before sub/a"


def test_no_lists_means_default_split(tmp_path: Path) -> None:
    write_voc(tmp_path, {"Annotations/a.xml": xml(obj())})
    dataset = voc.read(tmp_path, report=Report())
    assert [(i.split, i.name) for i in dataset.images] == [("default", "a.jpg")]


def test_ids_in_two_lists_are_warned_about(tmp_path: Path) -> None:
    write_voc(
        tmp_path, {"Annotations/a.xml": xml(obj()), "ImageSets/Main/test.txt": "a\n", "ImageSets/Main/train.txt": "a\n"}
    )
    report = Report()
    assert [i.split for i in voc.read(tmp_path, report=report).images] == ["train"]
    assert report.counts["ids_in_several_splits"] == 1 and "kept in 'train'" in str(report.warnings[0])


def test_class_files_come_first_then_first_appearance(tmp_path: Path) -> None:
    write_voc(
        tmp_path,
        {
            "Annotations/b.xml": xml(obj("zebra") + obj("ant")),
            "Annotations/a.xml": xml(obj("moth")),
            "labelmap.txt": "# comment\nbackground:0,0,0::\n",
            "classes.txt": "ant\nunused\n",
        },
    )
    dataset = voc.read(tmp_path, report=Report())
    assert dataset.classes == tuple(ClassInfo(None, n) for n in ("background", "ant", "unused", "moth", "zebra"))
    assert [dataset.class_names[label] for label in dataset.images[1].boxes.labels] == ["zebra", "ant"]


def test_xml_beside_images_with_split_folders(tmp_path: Path) -> None:
    make_image(tmp_path / "test" / "IMG_1.JPG", 30, 20)
    make_image(tmp_path / "train" / "deep" / "b.png", 30, 20)
    make_image(tmp_path / "train" / "unannotated.png", 30, 20)
    write_voc(
        tmp_path,
        {
            "test/IMG_1.xml": xml(obj(), filename="IMG_1.jpg", size=None).replace(
                "<filename>", "<path>C:\\x\\IMG_1.JPG</path><filename>"
            ),
            "train/deep/b.xml": xml(obj(), filename="b"),
            "train/.hidden.xml": "not xml",
        },
    )
    report = Report()
    dataset = voc.read(tmp_path, report=report)
    assert [(i.split, i.name, i.width, i.height) for i in dataset.images] == [
        ("test", "IMG_1.JPG", 30, 20),
        ("train", "deep/b.png", 30, 20),
    ]
    assert report.counts["size_from_image"] == 1
    assert report.counts["size_mismatch"] == 1  # b.xml declares 40x30
    assert report.counts["images_without_annotation"] == 1
    assert voc.detect(tmp_path) and voc.detect(tmp_path / "test")


def test_sibling_folders_any_case_and_image_dir(tmp_path: Path) -> None:
    make_image(tmp_path / "data" / "IMAGES" / "a.png", 40, 30)
    write_voc(tmp_path / "data", {"ANNOTATIONS/a.xml": xml(obj(), filename="a.png")})
    dataset = voc.read(tmp_path / "data", report=Report())
    assert dataset.images[0].source == tmp_path / "data" / "IMAGES" / "a.png"
    assert voc.detect(tmp_path / "data")
    make_image(tmp_path / "elsewhere" / "a.png", 40, 30)
    moved = voc.read(tmp_path / "data", report=Report(), image_dir=tmp_path / "elsewhere")
    assert moved.images[0].source == tmp_path / "elsewhere" / "a.png"


def test_exif_rotated_image_size_wins_and_is_reported(tmp_path: Path) -> None:
    make_image(tmp_path / "rot.jpg", 60, 40, orientation=6)  # stored 60x40, upright 40x60
    (tmp_path / "rot.xml").write_text(
        xml(obj(), filename="rot.jpg", size="<size><width>60</width><height>40</height></size>")
    )
    report = Report()
    record = voc.read(tmp_path, report=report).images[0]
    assert (record.width, record.height) == (40, 60)
    assert report.counts["size_mismatch"] == 1
    assert str(report.warnings[0]).endswith("size: declared 60x40, image is 40x60")


def test_unknown_size_without_image_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write_voc(tmp_path, {"Annotations/a.xml": xml(obj(), size=None), "Annotations/b.xml": xml(obj(), filename="b.jpg")})
    with pytest.raises(AnnotationError, match="size unknown") as error:
        voc.read(tmp_path, report=Report())
    assert error.value.file.endswith("a.xml") and error.value.field == "size"
    report = Report(on_error="skip")
    assert [i.name for i in voc.read(tmp_path, report=report).images] == ["b.jpg"]
    assert report.counts["skipped_items"] == 1


def test_bad_file_is_skipped_with_its_field(tmp_path: Path) -> None:
    write_voc(
        tmp_path,
        {
            "Annotations/a.xml": xml(obj() + obj(box=("x", 1, 2, 3))),
            "Annotations/b.xml": "<annot",
            "Annotations/c.xml": xml(obj("dog"), filename="c.jpg"),
        },
    )
    report = Report(on_error="skip")
    dataset = voc.read(tmp_path, report=report)
    assert [i.name for i in dataset.images] == ["c.jpg"]
    assert [(Path(p.file).name, p.field) for p in report.skipped] == [
        ("a.xml", "object[2]/bndbox/xmin"),
        ("b.xml", None),
    ]
    assert dataset.class_names == ["dog"], "a skipped file adds no class"


def test_parse_files_keeps_each_files_rows_columns_and_error(tmp_path: Path) -> None:
    write_voc(
        tmp_path,
        {
            "a.xml": xml(obj() + obj("dog", (3, 4, 10, 12), "<difficult>1</difficult>")),
            "b.xml": "<annotation><object></annotation>",
            "c.xml": xml(obj(box=(5, 6, 7, 8), extra="<score>0.9</score>")),
        },
    )
    paths = [str(tmp_path / name) for name in ("a.xml", "b.xml", "c.xml")]
    batch = pickle.loads(pickle.dumps(voc.parse_files(paths)))  # as a worker process sends it back
    assert isinstance(batch.files[1], AnnotationError) and batch.files[1].file == paths[1]
    assert batch.bounds == [0, 2, 2, 3]
    assert [batch.names[k] for k in batch.boxes.labels] == ["cat", "dog", "cat"]
    np.testing.assert_array_equal(batch.boxes.xyxy, [[0, 1, 10, 20], [2, 3, 10, 12], [4, 5, 7, 8]])
    assert batch.boxes.columns["difficult"].tolist() == [False, True, False]
    assert batch.boxes.columns["attributes"].tolist() == [None, None, {"score": "0.9"}]
    assert (batch.files[0].columns, batch.files[2].columns) == (("difficult",), ("attributes",))


def voc_folder_with_traps(root: Path) -> Path:
    """Fourteen annotation files and two listed ids, with a trap in every few: read in batches of three, the traps
    fall in different batches."""
    make_image(root / "JPEGImages" / "f03.png", 50, 40)
    make_image(root / "JPEGImages" / "f04b.png", 12, 10)
    files = {f"Annotations/f{k:02d}.xml": xml(obj(box=(1, 1, 5 + k, 6)), filename=f"f{k:02d}.jpg") for k in range(14)}
    files.update(
        {
            "Annotations/f02.xml": xml(
                obj("dog", extra="<difficult>1</difficult><pose>Left</pose>") + obj(), filename="f02.jpg"
            ),
            "Annotations/f03.xml": xml(obj(extra="<part><name>hand</name></part>"), filename="f03.png", size=None),
            "Annotations/f05.xml": "<annotation><object></annotation>",
            "Annotations/f06.xml": xml(obj("ghost"), filename="f06.jpg", size=None),
            "Annotations/f08.xml": xml(obj("bird", extra="<truncated>yes</truncated>"), filename="f07.jpg"),
            "ImageSets/Main/train.txt": "".join(f"f{k:02d}\n" for k in range(14)) + "f04b\nnothing\n",
        }
    )
    return write_voc(root, files)


def read_summary(root: Path, *, jobs: int) -> tuple[list[str], list[tuple], dict]:
    """Everything a read gives, as plain data: classes, each image with its boxes and columns, the report."""
    report = Report(on_error="skip")
    dataset = voc.read(root, report=report, jobs=jobs)
    images = [
        (
            i.split,
            i.name,
            i.width,
            i.height,
            i.source,
            i.boxes.xyxy.tolist(),
            [dataset.class_names[label] for label in i.boxes.labels],
            {name: column.tolist() for name, column in i.boxes.columns.items()},
        )
        for i in dataset.images
    ]
    return dataset.class_names, images, report.to_json()


def test_parsing_on_worker_processes_reads_the_same_dataset_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = voc_folder_with_traps(tmp_path)
    monkeypatch.setattr(voc, "PARSE_BATCH", 3)
    monkeypatch.setattr(voc, "MIN_FILES_FOR_WORKERS", 2)
    tasks = []
    run = voc.iter_parallel

    def spy(function: Callable, items: list, **options: object) -> object:
        tasks.append((len(items), options["jobs"], options["prefer"]))
        return run(function, items, **options)

    monkeypatch.setattr(voc, "iter_parallel", spy)
    in_process, on_workers = read_summary(root, jobs=1), read_summary(root, jobs=2)
    assert tasks == [(5, 1, "processes"), (5, 2, "processes")]
    assert on_workers == in_process
    classes, images, report = on_workers
    assert classes == ["cat", "dog", "bird"], "ghost is only in a skipped file"
    assert [(Path(p["file"]).name, p["field"]) for p in report["skipped"]] == [("f05.xml", None), ("f06.xml", "size")]
    names = [name for _, name, *_ in images]
    assert names[:6] == ["f00.jpg", "f01.jpg", "f02.jpg", "f03.png", "f04.jpg", "f04b.png"]
    assert len(images) == 13 and names.count("f07.jpg") == 2
    f02, f03 = images[2], images[3]
    assert f02[6:] == (["dog", "cat"], {"difficult": [True, False], "attributes": [{"pose": "Left"}, None]})
    assert f03[2:4] == (50, 40) and f03[7] == {} and images[0][7] == {}
    assert images[names.index("f07.jpg") + 1][6:] == (["bird"], {"truncated": [True]}), "f08.xml names f07.jpg"
    assert report["counts"]["ignored_object_elements"] == 1 and report["counts"]["listed_without_files"] == 1
    assert any("also annotated by f07" in w["message"] for w in report["warnings"])


def test_a_small_folder_is_parsed_in_this_process_whatever_jobs_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = voc_folder_with_traps(tmp_path)
    jobs = []
    run = voc.iter_parallel

    def spy(function: Callable, items: list, **options: object) -> object:
        jobs.append(options["jobs"])
        return run(function, items, **options)

    monkeypatch.setattr(voc, "iter_parallel", spy)
    assert len(voc.read(root, report=Report(on_error="skip"), jobs=2).images) == 13
    assert jobs == [1]


def test_parsing_on_worker_processes_stops_at_the_same_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = voc_folder_with_traps(tmp_path)
    monkeypatch.setattr(voc, "PARSE_BATCH", 3)
    monkeypatch.setattr(voc, "MIN_FILES_FOR_WORKERS", 2)
    errors = []
    for jobs in (1, 2):
        with pytest.raises(AnnotationError) as error:
            voc.read(root, report=Report(), jobs=jobs)
        errors.append((Path(error.value.file).name, error.value.field, error.value.message))
    assert errors[0] == errors[1] and errors[0][:2] == ("f05.xml", None) and "malformed" in errors[0][2]


def test_unreadable_image_header_fails_the_item(tmp_path: Path) -> None:
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "JPEGImages" / "a.jpg").write_bytes(b"not an image")
    write_voc(tmp_path, {"Annotations/a.xml": xml(obj())})
    with pytest.raises(ImageError):
        voc.read(tmp_path, report=Report())


def test_unsafe_filename_is_refused(tmp_path: Path) -> None:
    write_voc(tmp_path, {"Annotations/a.xml": xml(obj(), filename="..")})
    with pytest.raises(AnnotationError, match="unsafe"):
        voc.read(tmp_path, report=Report())


def test_a_file_is_not_a_dataset(tmp_path: Path) -> None:
    path = write_voc(tmp_path, {"a.xml": xml(obj())}) / "a.xml"
    assert not voc.detect(path)
    with pytest.raises(FormatError):
        voc.read(path, report=Report())


def test_detect(tmp_path: Path) -> None:
    assert not voc.detect(tmp_path)
    write_voc(tmp_path / "only_xml", {"a.xml": xml(obj())})
    assert not voc.detect(tmp_path / "only_xml"), "XML beside no image is not claimed"
    write_voc(tmp_path / "other", {"a.xml": "<config/>"})
    make_image(tmp_path / "other" / "a.png", 4, 4)
    assert not voc.detect(tmp_path / "other")
    labelme = "<annotation><filename>a.png</filename><imagesize><nrows>4</nrows></imagesize></annotation>"
    write_voc(tmp_path / "labelme", {"Annotations/a.xml": labelme})
    assert not voc.detect(tmp_path / "labelme")
    write_voc(tmp_path / "voc", {"Annotations/a.xml": xml()})
    assert voc.detect(tmp_path / "voc")


# --- writing folders ------------------------------------------------------------------------------------------


def dataset_for_writing() -> Dataset:
    return Dataset(
        (ClassInfo(None, "b&w <cat>"), ClassInfo(None, "dog"), ClassInfo(None, "unused")),
        (
            image("z.png", Boxes([[0.4, 1.5, 40, 30]], [1], {"truncated": [True]}), split="val"),
            image("sub/a.jpg", Boxes([[2, 3, 10, 12], [5, 5, 7, 7]], [0, 1])),
            image("neg.jpg", split="val"),
        ),
    )


def test_write_and_read_back(tmp_path: Path) -> None:
    dataset = dataset_for_writing()
    voc.write(dataset, tmp_path, report=Report())
    assert (tmp_path / "ImageSets" / "Main" / "val.txt").read_text() == "z\nneg\n"
    assert (tmp_path / "ImageSets" / "Main" / "train.txt").read_text() == "sub/a\n"
    assert (tmp_path / "classes.txt").read_text() == "b&w <cat>\ndog\nunused\n"
    assert stdlib_boxes(tmp_path / "Annotations" / "sub" / "a.xml") == (
        "a.jpg",
        40,
        30,
        [("b&w <cat>", [2, 3, 10, 12]), ("dog", [5, 5, 7, 7])],
    )
    assert voc.detect(tmp_path)
    back = voc.read(tmp_path, report=Report())
    assert back.class_names == dataset.class_names
    got = {(i.split, i.name): i for i in back.images}
    assert sorted(got) == [("train", "sub/a.jpg"), ("val", "neg.jpg"), ("val", "z.png")]
    for original in dataset.images:
        again = got[(original.split, original.name)]
        np.testing.assert_allclose(again.boxes.xyxy, original.boxes.xyxy, atol=0.5)
        assert again.boxes.labels.tolist() == original.boxes.labels.tolist()
    assert got[("val", "z.png")].boxes.column("truncated").tolist() == [True]


def test_writing_is_deterministic_and_leaves_the_input_alone(tmp_path: Path) -> None:
    dataset = dataset_for_writing()
    before = [(i.name, i.boxes.xyxy.copy()) for i in dataset.images]
    voc.write(dataset, tmp_path / "one", report=Report())
    voc.write(dataset, tmp_path / "two", report=Report())
    for path in sorted((tmp_path / "one").rglob("*.*")):
        assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes()
    for (name, xyxy), after in zip(before, dataset.images, strict=True):
        assert name == after.name
        np.testing.assert_array_equal(xyxy, after.boxes.xyxy)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ((image("a.jpg"), image("a.png", split="val")), "share Annotations/a.xml"),
        ((image("a.jpg", width=None),), "size unknown"),
        ((image("a.jpg", split="x/y"),), "split name"),
        ((image("../a.jpg"),), "unsafe"),
    ],
)
def test_writer_refuses_before_writing_anything(tmp_path: Path, images: tuple, message: str) -> None:
    with pytest.raises((FormatError, AnnotationError), match=message):
        voc.write(Dataset((ClassInfo(None, "cat"),), images), tmp_path, report=Report())
    assert list(tmp_path.iterdir()) == []


# --- real data ------------------------------------------------------------------------------------------------


def test_bccd(corpus: Path) -> None:
    root = corpus / "bccd_voc" / "BCCD"
    report = Report()
    dataset = voc.read(root, report=report)
    assert len(dataset.images) == 364 and dataset.box_count == 4888
    names = dataset.class_names
    assert Counter(names[label] for i in dataset.images for label in i.boxes.labels) == {
        "RBC": 4155,
        "WBC": 372,
        "Platelets": 361,
    }
    assert Counter(i.split for i in dataset.images) == {"train": 205, "val": 87, "test": 72}
    assert report.counts["ignored_split_lists"] == 1 and not report.warnings
    lists = {
        split: (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split() for split in ("train", "val", "test")
    }
    right_edge = 0
    for record in dataset.images:
        assert record.name.rsplit(".", 1)[0] in lists[record.split]
        filename, width, height, boxes = stdlib_boxes(root / "Annotations" / f"{record.stem}.xml")
        assert (record.name, record.width, record.height) == (filename, width, height)
        assert record.source == root / "JPEGImages" / filename
        assert [names[label] for label in record.boxes.labels] == [name for name, _ in boxes]
        np.testing.assert_array_equal(record.boxes.xyxy, [box for _, box in boxes])
        right_edge += int((record.boxes.xyxy[:, 2] == width).sum())
    assert right_edge > 0
    by_name = {i.name: i for i in dataset.images}
    for name, box in (("BloodImage_00338.jpg", [504, 337, 504, 337]), ("BloodImage_00343.jpg", [181, 329, 181, 329])):
        assert box in by_name[name].boxes.xyxy.tolist()


def test_bccd_voc_to_voc_keeps_boxes_and_splits(corpus: Path, tmp_path: Path) -> None:
    dataset = voc.read(corpus / "bccd_voc" / "BCCD", report=Report())
    voc.write(dataset, tmp_path, report=Report())
    back = voc.read(tmp_path, report=Report())
    assert back.class_names == dataset.class_names
    assert [(i.split, i.name, i.width, i.height) for i in back.images] == [
        (i.split, i.name, i.width, i.height) for i in dataset.images
    ]
    for before, after in zip(dataset.images, back.images, strict=True):
        np.testing.assert_array_equal(before.boxes.xyxy, after.boxes.xyxy)
        np.testing.assert_array_equal(before.boxes.column("truncated"), after.boxes.column("truncated"))


def test_cards_beside_images(corpus: Path) -> None:
    root = corpus / "cards_voc_subset" / "images"
    dataset = voc.read(root, report=Report())
    assert voc.detect(root)
    assert len(dataset.images) == 19 and dataset.box_count == 52
    assert {i.split for i in dataset.images} == {"test"}
    assert {i.name.rsplit(".", 1)[1] for i in dataset.images} == {"JPG", "jpg"}
    for record in dataset.images:
        filename, width, height, boxes = stdlib_boxes(root / "test" / f"{record.stem}.xml")
        assert record.name == filename and record.source == root / "test" / filename
        assert (record.width, record.height) == (width, height)
        assert [dataset.class_names[label] for label in record.boxes.labels] == [name for name, _ in boxes]
        np.testing.assert_array_equal(record.boxes.xyxy, [box for _, box in boxes])


def test_datumaro_voc_assets(corpus: Path) -> None:
    assets = corpus / "datumaro_assets" / "tests" / "assets" / "voc_dataset"
    assert all(voc.detect(assets / name) for name in ("voc_dataset1", "voc_dataset2", "voc_dataset3"))

    report = Report()
    first = voc.read(assets / "voc_dataset1", report=report)
    got = {(i.split, i.name): i for i in first.images}
    assert sorted(got) == [("test", "2007_000002.jpg"), ("train", "2007_000001.jpg")]
    boxes = got[("train", "2007_000001.jpg")].boxes
    np.testing.assert_array_equal(boxes.xyxy, [[0, 1, 3, 4], [3, 4, 6, 7]])
    assert [first.class_names[label] for label in boxes.labels] == ["cat", "person"]
    assert boxes.column("truncated").tolist() == [True, False]
    assert len(got[("test", "2007_000002.jpg")].boxes) == 0
    assert report.counts["ignored_object_elements"] == 2  # the person's <part> and <actions>

    with pytest.raises(AnnotationError, match="size unknown"):  # no <size> and no images at all
        voc.read(assets / "voc_dataset2", report=Report())
    report = Report(on_error="skip")
    second = voc.read(assets / "voc_dataset2", report=report)
    assert second.images == () and report.counts["skipped_items"] == 5
    assert second.class_names[:3] == ["background", "aeroplane", "bicycle"] and len(second.class_names) == 22

    third = voc.read(assets / "voc_dataset3", report=Report())
    assert [(i.split, i.name) for i in third.images] == [("train", "2007_000001.jpg")]


def test_mit_labelme_xml_is_not_voc(corpus: Path) -> None:
    root = corpus / "datumaro_assets" / "tests" / "assets" / "labelme_dataset"
    assert not voc.detect(root)
    with pytest.raises(AnnotationError, match="bndbox"):
        voc.read(root, report=Report())


@pytest.mark.parametrize(
    ("document", "refused"),
    [
        (
            '<!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>'
            "<annotation><filename>a.jpg</filename><object><name>&y;</name></object></annotation>",
            "entity declarations are refused",
        ),
        (
            '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation><filename>&x;</filename></annotation>',
            "entity declarations are refused",
        ),
    ],
)
@pytest.mark.parametrize("layout", ["voc", "flat"])
def test_a_folder_whose_xml_declares_entities_is_named_not_left_unrecognised(
    document: str, refused: str, layout: str, tmp_path: Path
) -> None:
    """Detection used to swallow the refusal and report "cannot tell the format": the file and the reason are
    named instead, and a read with --from voc says the same."""
    from click.testing import CliRunner

    from bboxaug.cli.main import main
    from bboxaug.formats import detect_format

    src = tmp_path / "src"
    xml = src / ("Annotations" if layout == "voc" else "") / "a.xml"
    make_image(src / ("JPEGImages" if layout == "voc" else "") / "a.jpg", 20, 10)
    xml.parent.mkdir(parents=True, exist_ok=True)
    xml.write_text(document)
    with pytest.raises(AnnotationError, match=refused) as error:
        detect_format(src)
    assert error.value.file == str(xml) and error.value.code == "unsafe_xml"
    for options in ([], ["--from", "voc"]):
        result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "out"), "--to", "coco", *options])
        assert result.exit_code == 1, result.output
        assert str(xml) in result.output and refused in result.output
        assert "cannot tell the format" not in result.output


# --- labelmap.txt: the class list Datumaro reads -------------------------------------------------------------


def test_labelmap_gives_each_class_a_voc_palette_colour_after_the_background() -> None:
    """Datumaro takes any class name that is not one of VOC's 20 only from labelmap.txt (`name:r,g,b:parts:
    actions`). Colours are VOC's own palette, from index 1 (0 is the background's black): aeroplane 128,0,0,
    bicycle 0,128,0, bird 128,128,0, boat 0,0,128, bottle 128,0,128; index 20 (tvmonitor) is 0,64,128."""
    names = [f"c{k}" for k in range(20)]
    text = voc.format_labelmap(["scratch", "dent", "pit", "crack", "inclusion", *names[5:]])
    lines = text.splitlines()
    assert lines[0] == "# label:color_rgb:parts:actions"
    assert lines[1:6] == [
        "scratch:128,0,0::",
        "dent:0,128,0::",
        "pit:128,128,0::",
        "crack:0,0,128::",
        "inclusion:128,0,128::",
    ]
    assert lines[20] == "c19:0,64,128::"
    assert voc.parse_labelmap(text) == ["scratch", "dent", "pit", "crack", "inclusion", *names[5:]]


def test_written_labelmap_lists_every_class_in_order_and_reads_back(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png", 20, 10)
    image = ImageRecord("a.png", "train", 20, 10, Boxes([[1, 1, 5, 5]], [1]), tmp_path / "a.png")
    dataset = Dataset((ClassInfo(None, "unused first"), ClassInfo(None, "dent")), (image,))
    out = tmp_path / "out"
    out.mkdir()
    FORMATS["voc"].write(dataset, out, report=Report())
    assert (out / "labelmap.txt").read_text() == (
        "# label:color_rgb:parts:actions\nunused first:128,0,0::\ndent:0,128,0::\n"
    )
    (out / "classes.txt").unlink()  # labelmap.txt alone keeps the order, the unused class too
    assert [c.name for c in FORMATS["voc"].read(out, report=Report()).classes] == ["unused first", "dent"]


def test_a_class_name_labelmap_cannot_hold_leaves_it_out_with_a_warning(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png", 20, 10)
    image = ImageRecord("a.png", "train", 20, 10, Boxes([[1, 1, 5, 5]], [0]), tmp_path / "a.png")
    dataset = Dataset((ClassInfo(None, "part:A"),), (image,))
    out, report = tmp_path / "out", Report()
    out.mkdir()
    FORMATS["voc"].write(dataset, out, report=report)
    assert not (out / "labelmap.txt").exists() and (out / "classes.txt").read_text() == "part:A\n"
    [warning] = report.warnings
    assert warning.code == "labelmap_not_written" and "part:A" in warning.message
