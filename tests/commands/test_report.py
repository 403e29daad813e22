"""`bboxaug report`, opened the way a reader opens it: in a real headless Chromium (the system's, driven by
Playwright). On the sample, on a copy of it with planted problems, and on a corpus dataset: no console error, no
request leaves the file, every picture decodes, the class table is `stats --json`'s, every planted problem is
shown with its box drawn where the annotation puts it, the class and split filters show exactly the images that
have the class (read from the XML with the standard library), the keyboard walks the gallery, and without script
the tables, findings and gallery are still there. Also: `--compare` with an augmented copy, and the CLI's errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bboxaug.cli.main import main
from bboxaug.commands.augment import augment
from bboxaug.pipeline.classes import ClassOps
from tests.conftest import REPO, voc_objects

SAMPLE = REPO / "samples" / "defects"
CHROMIUM = Path(os.environ.get("BBOXAUG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the test extra: pip install .[test]")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium; BBOXAUG_CHROMIUM names another)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@dataclass
class Opened:
    """A report open in the browser, with what it logged and what it asked for."""

    page: Any
    errors: list[str]
    outside: list[str]


def open_report(browser: Any, path: Path, *, script: bool = True) -> Opened:
    context = browser.new_context(java_script_enabled=script, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "file:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return Opened(page, errors, outside)


def write_report(src: Path, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(main, ["report", str(src), str(out), "--jobs", "2", *extra])
    assert result.exit_code == 0, result.output
    return result.output


def stats_json(src: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["stats", str(src), "--json", "-", "--on-error", "skip", "-q"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def classes_by_image(annotations: Path) -> dict[str, set[str]]:
    """Each image's file name with the classes of its boxes, from VOC XML read with the standard library."""
    found = {}
    for xml in annotations.glob("*.xml"):
        text = xml.read_text()
        name = re.search(r"<filename>([^<]+)</filename>", text)
        if name is not None:
            found[name.group(1)] = {cls for cls, *_ in voc_objects(xml)}
    return found


# --- the planted copy ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    code: str
    image: str | None  # split/name
    box: int | None
    xyxy: tuple[float, float, float, float] | None = None  # continuous pixels, as the page draws the box
    text: str = ""  # shown in the finding's text


def set_box(xml: Path, row: int, corners: tuple[int, int, int, int]) -> None:
    """Set the VOC corners (1-based, inclusive) of the `row`-th object."""
    text = xml.read_text()
    boxes = list(re.finditer(r"<bndbox>.*?</bndbox>", text, re.S))
    tags = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True))
    match = boxes[row]
    xml.write_text(text[: match.start()] + f"<bndbox>{tags}</bndbox>" + text[match.end() :])


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Planted]]:
    """samples/defects with one problem of each kind a trainer trips on, and where each one is."""
    root = tmp_path_factory.mktemp("planted") / "defects"
    shutil.copytree(SAMPLE, root)
    notes = root / "Annotations"
    set_box(notes / "defect_0001.xml", 2, (240, 89, 360, 100))  # 320 px wide image: reaches 40 px past the border
    set_box(notes / "defect_0002.xml", 1, (50, 60, 49, 80))  # xmax before xmin: no area
    (root / "JPEGImages" / "defect_0004.jpg").unlink()
    text = (notes / "defect_0005.xml").read_text()
    (notes / "defect_0005.xml").write_text(text.replace("<width>320</width>", "<width>640</width>", 1))
    text = (notes / "defect_0006.xml").read_text()
    first = re.search(r"<object>.*?</object>", text, re.S)
    assert first is not None
    (notes / "defect_0006.xml").write_text(text.replace("</annotation>", first.group(0) + "</annotation>"))
    (root / "classes.txt").write_text((root / "classes.txt").read_text() + "dent\n")
    duplicate_row = len(voc_objects(notes / "defect_0006.xml")) - 1
    return root, [
        Planted("out_of_bounds", "train/defect_0001.jpg", 2, (239.0, 88.0, 360.0, 100.0)),
        Planted("degenerate_box", "train/defect_0002.jpg", 1, (49.0, 59.0, 49.0, 80.0)),
        Planted("missing_image", "train/defect_0004.jpg", None),
        Planted("size_mismatch", None, None, text="defect_0005.xml"),  # the VOC reader names the file it read
        Planted("duplicate_box", "train/defect_0006.jpg", duplicate_row),
        Planted("unused_class", None, None, text="'dent'"),
    ]


def test_planted_problems_are_each_shown_with_their_box(
    browser: Any, planted: tuple[Path, list[Planted]], tmp_path: Path
) -> None:
    root, problems = planted
    out = tmp_path / "planted.html"
    write_report(root, out)
    opened = open_report(browser, out)
    page = opened.page
    for problem in problems:
        selector = f'li.finding[data-code="{problem.code}"]'
        if problem.image is not None:
            selector += f'[data-image="{problem.image}"]'
        if problem.box is not None:
            selector += f'[data-box="{problem.box}"]'
        found = page.locator(selector).filter(has_text=problem.text)
        assert found.count() == 1, f"{problem} not shown"
        assert found.is_visible()
        if problem.xyxy is not None:
            drawn = found.locator("rect.bad")
            assert drawn.count() == 1
            corners = [float(drawn.get_attribute(a) or "nan") for a in ("x", "y", "width", "height")]
            x1, y1, x2, y2 = problem.xyxy
            assert corners == pytest.approx([x1, y1, x2 - x1, y2 - y1])
            assert drawn.get_attribute("data-box") == str(problem.box)
            ring = found.locator("circle.ring")  # a box with no area is ringed where it is
            if problem.code == "degenerate_box":
                assert [float(ring.get_attribute(a) or "nan") for a in ("cx", "cy")] == [x1, (y1 + y2) / 2]
            else:
                assert ring.count() == 0
            assert found.locator("img").evaluate("img => img.naturalWidth") > 0
    missing = page.locator('li.finding[data-code="missing_image"]')
    assert missing.locator("img").count() == 0
    assert "image not found" in missing.inner_text()
    assert opened.errors == [] and opened.outside == []


def test_planted_copy_class_table_equals_stats(
    browser: Any, planted: tuple[Path, list[Planted]], tmp_path: Path
) -> None:
    root, _ = planted
    out = tmp_path / "planted.html"
    write_report(root, out)
    opened = open_report(browser, out)
    assert class_table(opened.page) == expected_class_table(stats_json(root))


# --- the sample and a corpus dataset -----------------------------------------------------------------------------


def class_table(page: Any) -> dict[str, dict[str, dict[str, int]]]:
    """The page's class table as {class: {split or "all": {"images": n, "boxes": n}}}."""
    rows = page.eval_on_selector_all(
        "#class-table tbody tr",
        """rows => rows.map(row => [row.dataset.class, Array.from(row.querySelectorAll('td[data-split]'))
            .map(td => [td.dataset.split, td.dataset.count, td.textContent])])""",
    )
    table: dict[str, dict[str, dict[str, int]]] = {}
    for name, cells in rows:
        for split, what, text in cells:
            table.setdefault(name, {}).setdefault(split, {})[what] = int(text.replace(",", ""))
    return table


def expected_class_table(stats: dict[str, Any]) -> dict[str, dict[str, dict[str, int]]]:
    expected: dict[str, dict[str, dict[str, int]]] = {}
    for split, part in [("all", stats), *stats["splits"].items()]:
        for name, counts in part["classes"].items():
            expected.setdefault(name, {})[split] = {"images": counts["images"], "boxes": counts["boxes"]}
    return expected


def gallery_keys(page: Any) -> list[str]:
    return page.eval_on_selector_all("#gallery-grid .tile:not([hidden])", "tiles => tiles.map(t => t.dataset.key)")


def check_report(browser: Any, src: Path, annotations: Path, out: Path, *extra: str) -> Any:
    """Every check a reader's browser can make on the report of a VOC dataset; returns the page."""
    write_report(src, out, *extra)
    opened = open_report(browser, out)
    page = opened.page
    stats = stats_json(src)
    images = page.eval_on_selector_all("img", "images => images.map(i => [i.complete, i.naturalWidth])")
    tiles = page.locator("#gallery-grid .tile").count()
    assert tiles == min(stats["images"], 300) and len(images) >= tiles
    assert all(complete and width > 0 for complete, width in images)
    assert class_table(page) == expected_class_table(stats)
    stated = page.locator("dl.summary dd").last.inner_text()
    assert stated.startswith(f"{out.stat().st_size:,} bytes")

    has = classes_by_image(annotations)
    shown = gallery_keys(page)
    assert len(shown) == tiles and len(set(shown)) == tiles
    for name in stats["classes"]:
        page.select_option("#class-filter", label=name)
        visible = gallery_keys(page)
        assert visible == [key for key in shown if name in has[key.split("/")[-1]]]
        assert page.locator("#gallery-count").inner_text().startswith(f"{len(visible)} of {tiles}")
    page.select_option("#class-filter", value="")
    for split in stats["splits"]:
        page.select_option("#split-filter", label=split)
        assert gallery_keys(page) == [key for key in shown if key.startswith(f"{split}/")]
    page.select_option("#split-filter", value="")
    assert gallery_keys(page) == shown
    assert opened.errors == [] and opened.outside == []
    return page


def test_sample_report_in_a_browser(browser: Any, tmp_path: Path) -> None:
    page = check_report(browser, SAMPLE, SAMPLE / "Annotations", tmp_path / "defects.html")
    assert page.locator("#findings").inner_text().endswith("No problems found.")
    assert page.locator("svg.plot").count() >= 7
    # rare classes first: the first tile shows the rarest class
    first = page.locator("#gallery-grid .tile").first.get_attribute("data-key") or ""
    assert "inclusion" in classes_by_image(SAMPLE / "Annotations")[first.split("/")[-1]]


def test_corpus_report_in_a_browser(browser: Any, corpus: Path, tmp_path: Path) -> None:
    bccd = corpus / "bccd_voc" / "BCCD"
    page = check_report(browser, bccd, bccd / "Annotations", tmp_path / "bccd.html")
    degenerate = page.locator('li.finding[data-code="degenerate_box"]')
    # the corpus's two zero-area boxes (CORPUS.md): BloodImage_00338 and _00343
    assert sorted({key.split("/")[-1] for key in degenerate.evaluate_all("f => f.map(x => x.dataset.image)")}) == [
        "BloodImage_00338.jpg",
        "BloodImage_00343.jpg",
    ]


def test_keyboard_walks_the_gallery_and_opens_an_image(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "defects.html"
    write_report(SAMPLE, out)
    opened = open_report(browser, out)
    page = opened.page
    tiles = page.locator("#gallery-grid .tile")
    keys = gallery_keys(page)
    tops = tiles.evaluate_all("tiles => tiles.map(t => t.offsetTop)")
    columns = tops.count(tops[0])
    assert 1 < columns < len(keys)
    focused = "document.activeElement.dataset.key"
    tiles.first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == keys[1]
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == keys[1 + columns]
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == keys[0]
    page.keyboard.press("End")
    assert page.evaluate(focused) == keys[-1]
    page.keyboard.press("Home")
    page.keyboard.press("Enter")
    viewer = page.locator("#viewer")
    assert viewer.evaluate("d => d.open")
    assert page.locator("#viewer-title").inner_text() == keys[0]
    first_boxes = len(voc_objects(SAMPLE / "Annotations" / (Path(keys[0]).stem + ".xml")))
    assert page.locator("#viewer table.boxes tbody tr").count() == first_boxes
    assert page.locator("#viewer rect.b").count() == first_boxes
    page.keyboard.press("ArrowRight")
    assert page.locator("#viewer-title").inner_text() == keys[1]
    page.keyboard.press("Escape")
    assert not viewer.evaluate("d => d.open")
    assert page.evaluate(focused) == keys[1]
    assert opened.errors == []


def test_without_script_tables_findings_and_gallery_are_there(
    browser: Any, planted: tuple[Path, list[Planted]], tmp_path: Path
) -> None:
    root, problems = planted
    out = tmp_path / "planted.html"
    write_report(root, out)
    opened = open_report(browser, out, script=False)
    page = opened.page
    assert class_table(page) == expected_class_table(stats_json(root))
    assert page.locator("li.finding").count() >= len(problems)
    assert page.locator("#gallery-grid .tile").count() == 48  # every sample image; none hidden
    assert all(page.locator("#gallery-grid .tile").evaluate_all("tiles => tiles.map(t => !t.hidden)"))
    assert not page.locator("#gallery-controls").is_visible()  # filters need the script: not offered without it
    page.locator("#gallery-grid .tile details").first.locator("summary").click()
    assert page.locator("#gallery-grid .tile table.boxes").first.is_visible()
    assert opened.outside == []


def test_compare_shows_pairs_and_the_runs_counts(browser: Any, tmp_path: Path) -> None:
    """The augmented copy drops `scratch`, so its class list is the sample's moved up by one: each drawn box
    must still have its class's colour (the position in the sample's class list, `c<k>`)."""
    augmented = tmp_path / "augmented"
    augment(SAMPLE, augmented, to="voc", copies=2, seed=1, jobs=1, class_ops=ClassOps.of(drop="scratch"))
    out = tmp_path / "compare.html"
    write_report(SAMPLE, out, "--compare", str(augmented))
    opened = open_report(browser, out)
    page = opened.page
    manifest = json.loads((augmented / "augment.json").read_text())
    made_from = {entry["image"]: entry["source"] for entry in manifest["outputs"]}
    positions = {name: k for k, name in enumerate((SAMPLE / "classes.txt").read_text().split())}
    pairs = page.locator("#compare .pair")
    assert pairs.count() == 12
    for k in range(pairs.count()):
        pair = pairs.nth(k)
        source = pair.get_attribute("data-source")
        outputs = pair.locator("figcaption").all_inner_texts()[1:]
        assert outputs and all(made_from[key] == source for key in outputs)
        for figure, key in zip(pair.locator("figure").all()[1:], outputs, strict=True):
            drawn = figure.locator("rect.b").evaluate_all("rects => rects.map(r => r.classList[1])")
            written = [positions[name] for name, *_ in voc_objects(augmented / "Annotations" / f"{Path(key).stem}.xml")]
            assert drawn == [f"c{k}" for k in written]
    counts = {
        row[0]: int(row[2].replace(",", ""))
        for row in page.eval_on_selector_all(
            "#manifest-counts tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
        )
    }
    assert counts == manifest["counts"]
    after = stats_json(augmented)
    balance = page.eval_on_selector_all(
        "#balance-table tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
    )
    for name, _, _, boxes_after, _ in balance:
        assert int(boxes_after.replace(",", "")) == after["classes"].get(name, {}).get("boxes", 0)
    assert all(width > 0 for width in page.eval_on_selector_all("img", "i => i.map(x => x.naturalWidth)"))
    assert opened.errors == [] and opened.outside == []


def test_compare_needs_a_dataset_bboxaug_made(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(SAMPLE), str(tmp_path / "r.html"), "--compare", str(SAMPLE)])
    assert result.exit_code == 2
    assert "not a dataset made by bboxaug" in result.output
    assert not (tmp_path / "r.html").exists()


def test_title_is_escaped_and_max_images_bounds_the_gallery(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    output = write_report(SAMPLE, out, "--title", "<script>alert(1)</script> & co", "--max-images", "5")
    assert output.startswith(f"wrote {out} ({out.stat().st_size:,} bytes): 48 images, 5 in the gallery; 0 errors")
    page = out.read_text(encoding="utf-8")
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>" in page
    assert page.count("<script>") == 1  # the page's own
    assert page.count('<figure class="tile"') == 5


def test_report_from_python_returns_what_the_page_shows(tmp_path: Path) -> None:
    import bboxaug

    data = bboxaug.report(SAMPLE, tmp_path / "r.html", max_images=3)
    assert [len(data.gallery), data.stats["images"], data.findings] == [3, 48, []]
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count('<figure class="tile"') == 3
