"""The report page without a browser: it states its own size exactly, asks for nothing outside itself, lists the
findings of a group up to the cap with pictures for the first few, and fills the gallery rare classes first up
to --max-images. (What a browser makes of the page is tests/commands/test_report.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bboxaug.core.model import Boxes, ClassInfo, Dataset, ImageRecord
from bboxaug.inspection.report import PICTURES_PER_GROUP, collect, read_checked
from bboxaug.inspection.report_page import LISTED_PER_GROUP, render_page
from bboxaug.inspection.validate import check_dataset
from tests.conftest import REPO, make_image, voc_objects

SAMPLE = REPO / "samples" / "defects"


def test_the_page_states_its_own_size_and_asks_for_nothing_outside(tmp_path: Path) -> None:
    dataset, findings = read_checked(SAMPLE)
    page = render_page(collect(dataset, findings, title="t", source=str(SAMPLE), max_images=10))
    stated = re.search(r"<dt>this file</dt><dd>([\d,]+) bytes", page)
    assert stated is not None and int(stated.group(1).replace(",", "")) == len(page.encode("utf-8"))
    assert "default-src 'none'" in page
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all(link.startswith(("data:", "#")) for link in links)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}  # a name, not a request


def test_the_gallery_starts_with_the_rarest_class_and_keeps_to_max_images() -> None:
    dataset, findings = read_checked(SAMPLE)
    data = collect(dataset, findings, title="t", source="s", max_images=5)
    assert len(data.gallery) == 5
    rarest = {"inclusion"}  # 8 boxes, the fewest of the sample's classes (samples/README.md)
    first = {name for name, *_ in voc_objects(SAMPLE / "Annotations" / (Path(data.gallery[0].key).stem + ".xml"))}
    assert rarest <= first
    assert collect(dataset, findings, title="t", source="s", max_images=0).gallery == []


def test_a_large_group_of_findings_is_listed_up_to_the_cap_with_a_few_pictures(tmp_path: Path) -> None:
    count = LISTED_PER_GROUP + 7
    images = [
        ImageRecord(
            f"{k}.png",
            "train",
            40,
            30,
            Boxes(np.array([[30.0, 5.0, 55.0, 20.0]]), np.array([0])),  # 15 px past the right border
            make_image(tmp_path / f"{k}.png", 40, 30) if k < PICTURES_PER_GROUP + 2 else None,
        )
        for k in range(count)
    ]
    dataset = Dataset((ClassInfo(0, "dent"),), images)
    findings = [f for f in check_dataset(dataset) if f.code == "out_of_bounds"]
    assert len(findings) == count
    page = render_page(collect(dataset, findings, title="t", source="s", max_images=0))
    group = page[page.index('id="finding-out_of_bounds-error"') :]
    group = group[: group.index("</section>")]
    assert group.count('<li class="finding"') == LISTED_PER_GROUP
    assert group.count("<img ") == PICTURES_PER_GROUP
    assert group.count('class="b c0 bad"') == PICTURES_PER_GROUP
    assert 'x="30" y="5" width="25" height="15"' in group
    assert "... and 7 more" in group
