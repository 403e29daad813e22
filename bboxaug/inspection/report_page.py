"""The report as one HTML file: style, script and pictures inline, no request to anywhere (a Content Security
Policy forbids any), readable without script (tables, plots, findings, the gallery with each image's box list),
and with script a filterable gallery that arrow keys walk and Enter opens larger.

The file states its own size: the page is built with the size as text, measured, and built again until the
stated size is the size (one or two rounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from importlib import resources
from typing import Any

import numpy as np

from bboxaug.core.codes import lookup
from bboxaug.core.version import __version__
from bboxaug.inspection.drawing import class_colour
from bboxaug.inspection.report import PICTURES_PER_GROUP, Comparison, ReportData, Shown
from bboxaug.inspection.report_html import box_list, cell, class_styles, picture, swatch, table
from bboxaug.inspection.stats import MEDIUM_AREA, SMALL_AREA, anchor_shapes
from bboxaug.inspection.svg_plots import class_bars, heat_map, histogram, scatter
from bboxaug.inspection.validate import ERROR, Finding

#: Findings of one code and severity listed on the page; `bboxaug validate --json` lists them all.
LISTED_PER_GROUP = 200


SIZE_MARK = "\x00size\x00"


POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _asset(name: str) -> str:
    return (resources.files("bboxaug.inspection") / "report_assets" / name).read_text(encoding="utf-8")


def _summary(data: ReportData) -> str:
    stats = data.stats
    splits = ", ".join(f"{escape(name)} {part['images']:,}" for name, part in stats["splits"].items()) or "-"
    errors = sum(f.severity == ERROR for f in data.findings)
    warnings = len(data.findings) - errors
    rows = [
        ("images", f"{stats['images']:,}"),
        ("boxes", f"{stats['boxes']:,}"),
        ("negatives", f"{stats['negatives']:,} (images without boxes)"),
        ("classes", f"{len(data.class_names):,}"),
        ("splits", splits),
        ("findings", f'<a href="#findings">{errors:,} errors, {warnings:,} warnings</a>'),
        (
            "gallery",
            f"{len(data.gallery):,} of {stats['images']:,} images (at most {data.max_images:,}), rare classes first, "
            f"seed {data.seed}",
        ),
        ("this file", SIZE_MARK),
    ]
    return '<dl class="summary">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _split_table(stats: dict[str, Any]) -> str:
    rows = []
    for name, part in [*stats["splits"].items(), ("all", stats)]:
        per_image = part["boxes_per_image"]
        rows.append(
            [
                escape(name),
                cell(part["images"]),
                cell(part["negatives"]),
                cell(part["boxes"]),
                *(cell(per_image[q]) for q in ("min", "median", "max")),
            ]
        )
    head = ["split", "images", "negatives", "boxes", "boxes/image: min", "median", "max"]
    return table(head, rows, table_id="split-table")


def _class_table(data: ReportData) -> str:
    """Images and boxes of each class, overall and per split; each count cell says which (data-split,
    data-count), as `stats --json` names them."""
    stats = data.stats
    parts = [("all", stats), *stats["splits"].items()]
    head = "".join(f'<th colspan="2" scope="colgroup">{escape(name)}</th>' for name, _ in parts)
    sub = "".join("<th>images</th><th>boxes</th>" for _ in parts)
    rows = []
    for k, name in enumerate(data.class_names):
        share = stats["classes"][name]["boxes"] / stats["boxes"] if stats["boxes"] else 0.0
        counts = "".join(
            f'<td data-split="{escape(split)}" data-count="{what}">{part["classes"][name][what]:,}</td>'
            for split, part in parts
            for what in ("images", "boxes")
        )
        rows.append(
            f'<tr data-class="{escape(name)}"><th scope="row">{swatch(k, name)}</th>{counts}<td>{share:.1%}</td></tr>'
        )
    return (
        '<table id="class-table"><thead><tr><th rowspan="2">class</th>'
        f'{head}<th rowspan="2">share of boxes</th></tr><tr>{sub}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _sizes_tables(stats: dict[str, Any]) -> str:
    quantiles = ("min", "p25", "median", "p75", "max", "mean")
    rows = [
        [label, *(cell(stats[key][q]) for q in quantiles)]
        for key, label in (
            ("box_width", "width (px)"),
            ("box_height", "height (px)"),
            ("box_area", "area (px²)"),
            ("aspect_ratio", "aspect (w/h)"),
        )
    ]
    groups = stats["size_groups"]
    total = max(stats["boxes"], 1)
    bounds = {"small": "below 32²", "medium": "below 96²", "large": "from 96²"}
    group_rows = [[f"{name} ({bounds[name]})", cell(count), f"{count / total:.1%}"] for name, count in groups.items()]
    if stats["degenerate"]:
        group_rows.append(["no area", cell(stats["degenerate"]), f"{stats['degenerate'] / total:.1%}"])
    sizes = stats["image_sizes"]
    size_rows = [[f"{s['width']}×{s['height']}", cell(s["images"])] for s in sizes["most_common"]]
    if sizes["unknown"]:
        size_rows.append(["unknown", cell(sizes["unknown"])])
    parts = [
        table(["box", *quantiles], rows, caption="box sizes"),
        table(["box area (px²)", "boxes", "share"], group_rows, caption="COCO sizes"),
        table(["image size", "images"], size_rows, caption="most common image sizes"),
    ]
    anchors = stats.get("anchors")
    if anchors and anchors["shapes"]:
        anchor_rows = [[str(k), f"{w:g}", f"{h:g}"] for k, (w, h) in enumerate(anchors["shapes"])]
        caption = (
            f"anchors at {anchors['img_size']} px (k-means, 1 - IoU; mean best IoU {cell(anchors['mean_best_iou'])})"
        )
        parts.append(table(["anchor", "width", "height"], anchor_rows, caption=caption))
    return '<div class="tables">' + "".join(parts) + "</div>"


def _plots(data: ReportData) -> str:
    stats, boxes, names = data.stats, data.boxes, data.class_names
    columns = [(split, [part["classes"][n]["boxes"] for n in names]) for split, part in stats["splits"].items()]
    if len(columns) != 1:
        columns.append(("all", [stats["classes"][n]["boxes"] for n in names]))
    width, height = boxes.wh.T
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = width / height
        centres = (boxes.xyxy[:, :2] + boxes.xyxy[:, 2:]) / 2 / boxes.sizes[boxes.image]
    placed = np.isfinite(centres).all(axis=1)
    known = np.isfinite(boxes.sizes).all(axis=1)
    sizes, counts = np.unique(boxes.sizes[known], axis=0, return_counts=True)
    plots = [
        class_bars(names, [class_colour(k) for k in range(len(names))], columns),
        histogram(width, title="box width", x_label="width (px)"),
        histogram(height, title="box height", x_label="height (px)"),
        histogram(aspect, title="box aspect ratio", x_label="width / height (log scale)", log=True),
        histogram(
            width * height,
            title="box area",
            x_label="area in px² (log scale)",
            log=True,
            marks=[(SMALL_AREA, "32²"), (MEDIUM_AREA, "96²")],
        ),
        heat_map(
            centres[placed, 0],
            centres[placed, 1],
            title="box centres",
            x_label="x / image width",
            y_label="y / image height",
        ),
        scatter(sizes, weights=counts, title="image sizes", x_label="width (px)", y_label="height (px)"),
    ]
    anchors = stats.get("anchors")
    if anchors and anchors["shapes"]:
        plots.append(
            scatter(
                anchor_shapes(boxes, anchors["img_size"]),
                title=f"box shapes at {anchors['img_size']} px, anchors numbered",
                x_label="width (px)",
                y_label="height (px)",
                marks=[(w, h, str(k)) for k, (w, h) in enumerate(anchors["shapes"])],
                seed=data.seed,
            )
        )
    return '<div class="plots">' + "".join(f"<figure>{plot}</figure>" for plot in plots) + "</div>"


def _where(found: Finding) -> str:
    place = found.image or ": ".join(part for part in (found.file, found.field) if part) or "the dataset"
    return escape(place) + (f" box {found.box}" if found.box is not None else "")


def _finding(found: Finding, data: ReportData, pictured: bool) -> str:
    shown = data.pictures.get(found.image or "") if pictured else None
    figure = picture(shown, data.class_names, highlight=found.box) if shown is not None else ""
    return (
        f'<li class="finding" data-code="{escape(found.code)}" data-severity="{escape(found.severity)}" '
        f'data-image="{escape(found.image or "")}" data-box="{"" if found.box is None else found.box}">{figure}'
        f'<div><p class="where">{_where(found)}</p><p>{escape(found.message)}</p></div></li>'
    )


def _findings(data: ReportData) -> str:
    if not data.findings:
        return "<p>No problems found.</p>"
    groups: dict[tuple[str, str], list[Finding]] = {}
    for found in data.findings:
        groups.setdefault((found.severity, found.code), []).append(found)
    order = sorted(groups, key=lambda group: group[0] != ERROR)  # errors first, each severity in code order
    counts = [
        [
            f'<a href="#finding-{escape(code)}-{severity}">{escape(code)}</a>',
            severity,
            cell(len(groups[severity, code])),
        ]
        for severity, code in order
    ]
    sections = [table(["code", "severity", "findings"], counts, table_id="finding-counts")]
    for severity, code in order:
        members = groups[severity, code]
        pictured = 0
        items = []
        for item in members[:LISTED_PER_GROUP]:
            show = item.image in data.pictures and pictured < PICTURES_PER_GROUP
            pictured += show
            items.append(_finding(item, data, show))
        more = len(members) - LISTED_PER_GROUP
        tail = (
            f"<p>... and {more:,} more: <code>bboxaug validate --json</code> lists every one.</p>" if more > 0 else ""
        )
        sections.append(
            f'<section class="group {severity}" id="finding-{escape(code)}-{severity}" data-code="{escape(code)}" '
            f'data-severity="{severity}"><h3><span class="badge {severity}">{severity}</span> <code>{escape(code)}'
            f"</code> {len(members):,}: {escape(lookup(code).label)}</h3><ol>{''.join(items)}</ol>{tail}</section>"
        )
    return "".join(sections)


def _tile(number: int, item: Shown, names: Sequence[str]) -> str:
    labels = sorted(set(item.labels.tolist()))
    boxes = len(item.labels)
    return (
        f'<figure class="tile" tabindex="0" id="g{number}" data-key="{escape(item.key)}" '
        f'data-split="{escape(item.split)}" data-classes=" {" ".join(map(str, labels))} ">'
        f"{picture(item, names)}"
        f'<figcaption><span class="key">{escape(item.key)}</span> '
        f"<span>{boxes} box{'es' if boxes != 1 else ''}</span></figcaption>"
        f"<details><summary>box list</summary>{box_list(item, names)}</details></figure>"
    )


def _gallery(data: ReportData) -> str:
    names = data.class_names
    class_options = "".join(f'<option value="{k}">{escape(name)}</option>' for k, name in enumerate(names))
    split_options = "".join(f'<option value="{escape(s)}">{escape(s)}</option>' for s in data.stats["splits"])
    controls = (
        '<div id="gallery-controls" hidden><label>class <select id="class-filter"><option value="">every class'
        f'</option>{class_options}</select></label> <label>split <select id="split-filter"><option value="">'
        f'every split</option>{split_options}</select></label> <output id="gallery-count"></output>'
        '<p class="hint">Arrow keys move between images, Enter opens one larger (arrows then page through), '
        "Escape closes.</p></div>"
    )
    tiles = "".join(_tile(k, item, names) for k, item in enumerate(data.gallery))
    return controls + f'<div id="gallery-grid">{tiles}</div>'


def _comparison(data: ReportData, comparison: Comparison) -> str:
    before, after, names = data.stats, comparison.stats, comparison.class_names

    def boxes(stats: dict[str, Any], name: str) -> int:
        return int(stats["classes"].get(name, {}).get("boxes", 0))

    def share(stats: dict[str, Any], name: str) -> str:
        return f"{boxes(stats, name) / stats['boxes']:.1%}" if stats["boxes"] else "-"

    balance = table(
        ["class", "boxes before", "share before", "boxes after", "share after"],
        [
            [swatch(k, n), cell(boxes(before, n)), share(before, n), cell(boxes(after, n)), share(after, n)]
            for k, n in enumerate(names)
        ],
        table_id="balance-table",
        caption="class balance before and after",
    )
    counts = table(
        ["count", "what", "n"],
        [[f"<code>{escape(code)}</code>", escape(label), cell(n)] for code, label, n in comparison.counts],
        table_id="manifest-counts",
        caption="counted by the run that made it (its manifest)",
    )
    bars = class_bars(
        names,
        [class_colour(k) for k in range(len(names))],
        [("before", [boxes(before, n) for n in names]), ("after", [boxes(after, n) for n in names])],
    )
    rows = []
    for source, outputs in comparison.pairs:
        cells = [f"<figure>{picture(source, data.class_names)}<figcaption>{escape(source.key)}</figcaption></figure>"]
        cells += [
            f"<figure>{picture(out, comparison.class_names)}<figcaption>{escape(out.key)}</figcaption></figure>"
            for out in outputs
        ]
        rows.append(f'<div class="pair" data-source="{escape(source.key)}">{"".join(cells)}</div>')
    return (
        f"<p>Compared with <code>{escape(comparison.source)}</code>: {comparison.made:,} images made from images "
        f"of this dataset; {after['images']:,} images and {after['boxes']:,} boxes in all.</p>"
        f'<div class="tables">{counts}{balance}</div><figure>{bars}</figure>'
        f"<h3>Before and after</h3>{''.join(rows) or '<p>No image of it was made from this dataset.</p>'}"
    )


def _page(data: ReportData) -> str:
    sections = [
        ("summary", "Summary", _summary(data)),
        ("classes", "Splits and classes", _split_table(data.stats) + _class_table(data) + _sizes_tables(data.stats)),
        ("plots", "Plots", _plots(data)),
        ("findings", "Findings", _findings(data)),
        ("gallery", "Gallery", _gallery(data)),
    ]
    if data.comparison is not None:
        sections.append(("compare", "Before and after", _comparison(data, data.comparison)))
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{html}</section>' for key, title, html in sections)
    colours = class_styles(max(len(data.class_names), len(data.comparison.class_names) if data.comparison else 0))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(data.title)}</title><style>{_asset('report.css')}{colours}</style></head><body>"
        f"<header><h1>{escape(data.title)}</h1><p><code>{escape(data.source)}</code>, by bboxaug {__version__}"
        f"{', images decoded (--deep)' if data.deep else ''}</p><nav>{nav}</nav></header><main>{body}</main>"
        '<dialog id="viewer" aria-labelledby="viewer-title"><form method="dialog"><button class="close" '
        'aria-label="close">×</button></form><h2 id="viewer-title"></h2><div class="view"></div>'
        '<div class="boxlist"></div></dialog>'
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def render_page(data: ReportData) -> str:
    """The page, stating its own size in bytes."""
    page = _page(data)
    stated = "-"
    for _ in range(8):
        text = page.replace(SIZE_MARK, stated)
        size = len(text.encode("utf-8"))
        exact = f"{size:,} bytes ({size / 1e6:.1f} MB)"
        if exact == stated:
            return text
        stated = exact
    return text
