"""Policies: every structural mistake is named by file and line, presets build with albumentations 2.0.8 and
never reflect borders, `auto` follows its thresholds, and to_json round-trips.

Most tests run against a stand-in backend (installed by the autouse fixture `stand_in_backend`) so that they pin
down this module alone; `test_real_backend_*` use the real one once it exists.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import pickle
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import albumentations as A
import cv2
import numpy as np
import pytest

from bboxaug.augmentation import presets
from bboxaug.augmentation.policy import PRESETS, describe, load_policy
from bboxaug.augmentation.spec import Policy, TransformSpec, spec_field, suggest
from bboxaug.core.errors import PolicyError
from bboxaug.geometry.shapes import BoxRules
from bboxaug.preprocessing.steps import Preprocessing

KNOWN_BACKENDS = ("albumentations", "imgaug")


class StandInBackend:
    """Records what it was asked to validate; refuses an `Affine` parameter `rotation` the way a backend would."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.validated: list[Policy] = []

    def validate(self, policy: Policy) -> None:
        self.validated.append(policy)
        for index, spec in enumerate(policy.transforms):
            for param in spec.params:
                if spec.name == "Affine" and param == "rotation":
                    raise PolicyError(
                        f"unknown parameter {param!r}{suggest(param, ['rotate', 'scale'])}",
                        file=policy.source,
                        field=spec_field(index, spec),
                    )


@pytest.fixture(autouse=True)
def stand_in_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, StandInBackend]:
    """Replace bboxaug.augmentation.backends by a stand-in with get_backend (except for the real-backend tests)."""
    backends = {name: StandInBackend(name) for name in KNOWN_BACKENDS}
    if request.node.name.startswith("test_real_backend"):
        return backends

    def get_backend(name: str) -> StandInBackend:
        if name not in backends:
            raise PolicyError(f"unknown backend {name!r}; known: {', '.join(KNOWN_BACKENDS)}")
        return backends[name]

    module = types.ModuleType("bboxaug.augmentation.backends")
    module.get_backend = get_backend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bboxaug.augmentation.backends", module)
    return backends


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def build(spec: TransformSpec) -> A.BasicTransform:
    """Construct the transform directly with albumentations; any warning (a deprecated parameter) fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return getattr(A, spec.name)(**spec.params)


# --- a good file ------------------------------------------------------------------------------------------------

GOOD = """\
# a policy with every part
backend: albumentations
boxes: {min_visibility: 0.3, min_area: 16, min_size: 2, box_shape: ellipse}
transforms:
  - HorizontalFlip: {p: 0.5}
  - Affine:
      rotate: [-15, 15]
      scale: [0.9, 1.1]
      p: 0.7

  - RandomBrightnessContrast:
"""


def test_a_good_file_gives_specs_with_their_lines(tmp_path: Path, stand_in_backend: dict) -> None:
    path = write(tmp_path, GOOD)
    policy = load_policy(path)
    assert policy.source == str(path) and policy.backend == "albumentations" and policy.serialized is None
    assert policy.boxes == BoxRules(min_visibility=0.3, min_area=16.0, min_size=2.0, box_shape="ellipse")
    assert [(s.name, dict(s.params), s.line) for s in policy.transforms] == [
        ("HorizontalFlip", {"p": 0.5}, 5),
        ("Affine", {"rotate": [-15, 15], "scale": [0.9, 1.1], "p": 0.7}, 6),
        ("RandomBrightnessContrast", {}, 11),
    ]
    assert stand_in_backend["albumentations"].validated == [policy]


def test_boxes_default_and_backend_default(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "transforms:\n  - HorizontalFlip: {p: 0.5}\n"))
    assert policy.boxes == BoxRules() and policy.backend == "albumentations"


def test_yaml_anchors_and_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    text = (
        "transforms:\n"
        "  - Affine: &affine {rotate: [-5, 5], border_mode: 0, p: 0.3}\n"
        "  - Perspective:\n"
        "      <<: *affine\n"
        "      p: 0.2\n"
    )
    policy = load_policy(write(tmp_path, text))
    assert dict(policy.transforms[1].params) == {"rotate": [-5, 5], "border_mode": 0, "p": 0.2}
    assert [s.line for s in policy.transforms] == [2, 3]


# --- structural mistakes, each on a known line ------------------------------------------------------------------

MISTAKES = [
    # (file text, line, text the message must contain)
    (
        "backend: albumentations\ntransfroms:\n  - HorizontalFlip: {}\n",
        2,
        ["unknown key 'transfroms'", "did you mean 'transforms'"],
    ),
    ("transform:\n  - HorizontalFlip: {}\n", 1, ["unknown key 'transform'", "did you mean 'transforms'"]),
    ("transforms:\n  - HorizontalFlip: {p: 0.5}\n  - 3\n", 3, ["transforms[1]", "one `Name: {params}` mapping"]),
    (
        "transforms:\n  - HorizontalFlip: {p: 0.5}\n  - VerticalFlip\n",
        3,
        ["transforms[1]", "write `- VerticalFlip: {}`"],
    ),
    (
        "transforms:\n  - HorizontalFlip: {p: 0.5}\n\n  - Affine:\n    rotate: [-15, 15]\n",
        4,
        ["transforms[1]", "2 keys (Affine, rotate)", "indent the parameters"],
    ),
    ("transforms:\n  - HorizontalFlip: 0.5\n", 2, ["transforms[0] HorizontalFlip", "must be a mapping"]),
    ("transforms:\n  - 7: {p: 0.5}\n", 2, ["transforms[0]", "name must be a string"]),
    ("transforms:\n  - Affine: {p: 2020-01-01}\n", 2, ["transforms[0] Affine", "not date"]),
    ("transforms: {HorizontalFlip: {}}\n", 1, ["transforms must be a non-empty list", "not a mapping"]),
    ("boxes: {}\ntransforms: []\n", 2, ["not an empty list"]),
    (
        "transforms:\n  - HorizontalFlip: {}\nboxes:\n  min_area: 4\n  min_visibility: 1.5\n",
        5,
        ["boxes.min_visibility", "between 0 and 1", "1.5"],
    ),
    ("transforms:\n  - HorizontalFlip: {}\nboxes:\n  min_visibility: -0.1\n", 4, ["boxes.min_visibility"]),
    ("transforms:\n  - HorizontalFlip: {}\nboxes:\n\n  min_area: -4\n", 5, ["boxes.min_area", ">= 0"]),
    ("transforms:\n  - HorizontalFlip: {}\nboxes:\n  min_size: two\n", 4, ["boxes.min_size", "must be a number"]),
    ("transforms:\n  - HorizontalFlip: {}\nboxes:\n  min_size: .nan\n", 4, ["boxes.min_size", "must be a number"]),
    ("transforms:\n  - HorizontalFlip: {}\nboxes:\n  min_size: true\n", 4, ["boxes.min_size", "must be a number"]),
    (
        "transforms:\n  - HorizontalFlip: {}\nboxes:\n  box_shape: circle\n",
        4,
        ["boxes.box_shape", "corners, ellipse", "'circle'"],
    ),
    (
        "transforms:\n  - HorizontalFlip: {}\nboxes:\n  min_visiblity: 0.3\n",
        4,
        ["unknown box rule 'min_visiblity'", "did you mean 'min_visibility'"],
    ),
    ("transforms:\n  - HorizontalFlip: {}\nboxes: [0.3]\n", 3, ["boxes must be a mapping", "not a list"]),
    ("backend: [albumentations]\ntransforms:\n  - HorizontalFlip: {}\n", 1, ["backend must be a name"]),
    ("backend: torchvision\ntransforms:\n  - HorizontalFlip: {}\n", 1, ["unknown backend 'torchvision'"]),
    (
        "transforms:\n  - HorizontalFlip: {p: 0.5}\n  - Affine: {rotate: 10, p: 0.5, rotate: 20}\n",
        3,
        ["duplicate key 'rotate' (first on line 3)"],
    ),
    (
        "boxes: {min_area: 1}\ntransforms:\n  - HorizontalFlip: {}\nboxes: {min_area: 2}\n",
        4,
        ["duplicate key 'boxes' (first on line 1)"],
    ),
    ("- HorizontalFlip: {}\n", 1, ["a policy is a mapping", "not a list"]),
    ("transforms:\n  - HorizontalFlip: {p: 0.5}\n  - Affine: {rotate: [-15, 15}\n", 3, ["invalid YAML"]),
    ("transforms:\n  - HorizontalFlip: {p: 0.5}\n\tbad: tab\n", 3, ["invalid YAML"]),
    ("transforms:\n  - Affine: !!python/object:os.system {}\n", 2, ["invalid YAML"]),
    ("transforms:\n  - HorizontalFlip: {}\n---\ntransforms: []\n", 3, ["invalid YAML", "single document"]),
]


@pytest.mark.parametrize(("text", "line", "fragments"), MISTAKES)
def test_each_mistake_names_file_and_line(text: str, line: int, fragments: list[str], tmp_path: Path) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    assert error.file == str(path)
    assert error.field is not None and error.field.split(":")[0] == f"line {line}", str(error)
    for fragment in fragments:
        assert fragment in str(error)
    assert error.exit_code == 2


def test_the_message_reads_file_line_entry_problem(tmp_path: Path) -> None:
    """The format every policy message follows, here raised by the (stand-in) backend via spec_field."""
    text = (
        "transforms:\n  - HorizontalFlip: {p: 0.5}\n  - RandomBrightnessContrast: {}\n\n\n\n"
        "  - Affine: {rotation: 10}\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert (
        str(caught.value) == f"{path}: line 7: transforms[2] Affine: unknown parameter 'rotation' "
        "(did you mean 'rotate'?)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the policy file is empty"),
        ("   \n\n", "the policy file is empty"),
        ("# only a comment\n", "holds nothing"),
    ],
)
def test_empty_files(text: str, message: str, tmp_path: Path) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy(path)
    assert caught.value.file == str(path)


def test_missing_file_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found") as caught:
        load_policy(tmp_path / "nofile.yaml")
    assert caught.value.file == str(tmp_path / "nofile.yaml")
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "folder.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"transforms:\n  - HorizontalFlip: {}\n# caf\xe9\n")
    with pytest.raises(PolicyError, match="not UTF-8") as caught:
        load_policy(tmp_path / "latin1.yaml")
    assert caught.value.field == "line 3"


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("medum", ["neither a preset", "did you mean 'medium'"]),
        ("policy.txt", ["neither a preset", ".yaml, .yml or .json"]),
        (Path("light"), ["neither a preset"]),
    ],
)
def test_names_that_are_neither_preset_nor_policy_file(spec: str | Path, fragments: list[str]) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(spec)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_not_a_policy_at_all() -> None:
    with pytest.raises(PolicyError, match="not int"):
        load_policy(3)  # type: ignore[arg-type]


def test_unknown_backend_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "transforms:\n  - HorizontalFlip: {}\nbackend: torch\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == f"{path}: line 3: backend: unknown backend 'torch'; known: albumentations, imgaug"


def test_the_policy_goes_to_its_own_backend(tmp_path: Path, stand_in_backend: dict) -> None:
    policy = load_policy(write(tmp_path, "backend: imgaug\ntransforms:\n  - Fliplr: {p: 0.5}\n"))
    assert stand_in_backend["imgaug"].validated == [policy] and not stand_in_backend["albumentations"].validated


# --- JSON files and mappings -------------------------------------------------------------------------------------


def test_json_files_have_lines_too(tmp_path: Path) -> None:
    data = {"boxes": {"min_area": 4}, "transforms": [{"HorizontalFlip": {"p": 0.5}}, {"Affine": {"rotate": 1e1}}]}
    path = write(tmp_path, json.dumps(data, indent=2), "policy.json")
    policy = load_policy(path)
    lines = path.read_text().splitlines()
    assert [lines[s.line - 1].strip() for s in policy.transforms] == ['"HorizontalFlip": {', '"Affine": {']
    assert policy.transforms[1].params == {"rotate": 10.0}  # JSON numbers as JSON reads them (YAML 1.1 would not)

    data["boxes"] = {"min_area": -1}
    path = write(tmp_path, json.dumps(data, indent=2), "bad.json")
    with pytest.raises(PolicyError, match=r"boxes\.min_area") as caught:
        load_policy(path)
    assert caught.value.field == "line 3: boxes.min_area"


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "transforms": [\n    {"HorizontalFlip": {"p": 0.5}},\n  ]\n}\n', "p.json")
    with pytest.raises(PolicyError, match="invalid JSON") as caught:
        load_policy(path)
    assert caught.value.field == "line 4"


def test_mappings_are_checked_the_same_way_without_lines() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy({"transforms": [{"HorizontalFlip": {}}, {"A": {}, "B": {}}]})
    assert caught.value.file == "<mapping>" and caught.value.field == "transforms[1]"
    with pytest.raises(PolicyError, match="keys must be strings"):
        load_policy({"transforms": [{"Affine": {"scale": {1: 2}}}]})
    with pytest.raises(PolicyError, match="not ndarray"):
        load_policy({"transforms": [{"Affine": {"scale": np.array([0.9, 1.1])}}]})


def test_mappings_are_copied_as_plain_data() -> None:
    params = {"rotate": (-5, 5), "p": 0.5}
    policy = load_policy({"transforms": [{"Affine": params}]})
    params["p"] = 1.0
    assert dict(policy.transforms[0].params) == {"rotate": [-5, 5], "p": 0.5}
    assert policy.transforms[0].line is None and policy.source == "<mapping>"


# --- presets ----------------------------------------------------------------------------------------------------

FAMILIES = {  # the families -> (transform, parameters that must be set) giving them
    "flips": ("HorizontalFlip", ()),
    "rotation": ("Affine", ("rotate",)),
    "affine": ("Affine", ("scale", "translate_percent")),
    "perspective": ("Perspective", ("scale",)),
    "bbox-safe crop": ("BBoxSafeRandomCrop", ()),
    "brightness": ("RandomBrightnessContrast", ("brightness_limit",)),
    "contrast": ("RandomBrightnessContrast", ("contrast_limit",)),
    "hue-saturation": ("HueSaturationValue", ("hue_shift_limit", "sat_shift_limit")),
    "RGB shift": ("RGBShift", ()),
    "blur": ("GaussianBlur", ()),
    "noise": ("GaussNoise", ("std_range",)),
    "CLAHE": ("CLAHE", ()),
    "sharpening": ("Sharpen", ()),
}
PRESET_FAMILIES = {
    "light": {"flips", "rotation", "affine", "brightness", "contrast"},
    "medium": {
        "flips",
        "rotation",
        "affine",
        "perspective",
        "bbox-safe crop",
        "brightness",
        "contrast",
        "hue-saturation",
        "RGB shift",
        "blur",
        "noise",
    },
    "heavy": set(FAMILIES),
}


@pytest.mark.parametrize("name", ["light", "medium", "heavy"])
def test_presets_hold_their_families(name: str) -> None:
    policy = load_policy(name)
    assert policy.source == f"preset:{name}" and policy.backend == "albumentations" and policy.serialized is None
    assert all(spec.line is None for spec in policy.transforms)
    params = {spec.name: spec.params for spec in policy.transforms}
    assert len(params) == len(policy.transforms), "a transform appears twice"
    present = {
        family
        for family, (transform, needed) in FAMILIES.items()
        if transform in params and all(key in params[transform] for key in needed)
    }
    assert present == PRESET_FAMILIES[name]
    assert policy.boxes == BoxRules(min_visibility=0.3)


@pytest.mark.parametrize("name", ["light", "medium", "heavy"])
def test_preset_probabilities_lie_in_their_range(name: str) -> None:
    low, high = presets.P_RANGES[name]
    for spec in load_policy(name).transforms:
        assert low <= spec.params["p"] <= high, spec


def test_presets_grow_stronger() -> None:
    """The shared transforms widen their ranges from light to heavy."""
    specs = {name: {s.name: s.params for s in load_policy(name).transforms} for name in ("light", "medium", "heavy")}
    for transform, key in [("Affine", "rotate"), ("Affine", "scale"), ("RandomBrightnessContrast", "contrast_limit")]:
        widths = [
            specs[name][transform][key][1] - specs[name][transform][key][0] for name in ("light", "medium", "heavy")
        ]
        assert widths == sorted(widths) and widths[0] < widths[2], (transform, key, widths)


@pytest.mark.parametrize("name", ["light", "medium", "heavy"])
def test_every_preset_builds_and_runs_with_albumentations(name: str) -> None:
    assert A.__version__ == "2.0.8"
    policy = load_policy(name)
    transforms = [build(spec) for spec in policy.transforms]
    for spec, transform in zip(policy.transforms, transforms, strict=True):
        assert transform.p == spec.params["p"]
    forced = [build(dataclasses.replace(spec, params={**spec.params, "p": 1.0})) for spec in policy.transforms]
    pipeline = A.Compose(forced, bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]), seed=3)
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pipeline(image=image, bboxes=np.array([[10.0, 12.0, 40.0, 50.0]]), labels=[0])
    assert out["image"].dtype == np.uint8 and out["image"].ndim == 3 and len(out["bboxes"]) == 1


@pytest.mark.parametrize("name", ["light", "medium", "heavy"])
def test_no_preset_reflects_borders(name: str) -> None:
    """Every transform that can fill uncovered area says constant black, explicitly, and gets it."""
    for spec in load_policy(name).transforms:
        cls = getattr(A, spec.name)
        if "border_mode" in inspect.signature(cls.__init__).parameters:
            assert spec.params.get("border_mode") == cv2.BORDER_CONSTANT and spec.params.get("fill") == 0, spec
            assert build(spec).border_mode == cv2.BORDER_CONSTANT
        assert "reflect" not in json.dumps(spec.params).lower()
        if spec.name == "BBoxSafeRandomCrop":
            assert spec.params["erosion_rate"] == 0.0  # keeps every box whole


@pytest.mark.parametrize(
    ("size", "strength"),
    [
        (0, "heavy"),
        (1, "heavy"),
        (presets.SMALL_DATASET - 1, "heavy"),
        (presets.SMALL_DATASET, "medium"),
        (presets.LARGE_DATASET, "medium"),
        (presets.LARGE_DATASET + 1, "light"),
        (10**6, "light"),
    ],
)
def test_auto_picks_the_strength_by_dataset_size(size: int, strength: str) -> None:
    assert (presets.SMALL_DATASET, presets.LARGE_DATASET) == (500, 5000)  # the documented thresholds
    policy = load_policy("auto", dataset_size=size)
    assert policy.source == f"preset:auto:{strength}"
    assert policy == load_policy(strength)
    probabilities = [spec.params["p"] for spec in policy.transforms]
    low, high = {"heavy": (0.4, 0.5), "medium": (0.2, 0.4), "light": (0.1, 0.3)}[strength]
    assert all(low <= p <= high for p in probabilities), probabilities


@pytest.mark.parametrize("size", [None, -1, 2.5, True, "300"])
def test_auto_needs_a_dataset_size(size: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy("auto", dataset_size=size)
    assert caught.value.file == "preset:auto"


def test_dataset_size_does_not_change_other_presets() -> None:
    assert load_policy("medium", dataset_size=10) == load_policy("medium")
    assert PRESETS == ("light", "medium", "heavy", "auto")


# --- albumentations' own serialized pipelines --------------------------------------------------------------------


def serialized_compose() -> A.Compose:
    return A.Compose(
        [A.HorizontalFlip(p=0.5), A.OneOf([A.Affine(rotate=(-10, 10)), A.Perspective()], p=0.4)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
    )


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_albumentations_saved_pipelines_are_accepted(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"saved.{suffix}"
    A.save(serialized_compose(), str(path), data_format=suffix)
    policy = load_policy(path)
    expected = json.loads(json.dumps(A.to_dict(serialized_compose())))
    assert policy.serialized == expected and policy.transforms == () and policy.boxes == BoxRules()
    assert policy.backend == "albumentations" and policy.source == str(path)
    rebuilt = A.from_dict(dict(policy.serialized))
    assert [type(t).__name__ for t in rebuilt.transforms] == ["HorizontalFlip", "OneOf"]


def test_a_serialized_pipeline_with_box_rules_beside_it(tmp_path: Path) -> None:
    data = {"boxes": {"min_visibility": 0.5}, **A.to_dict(serialized_compose())}
    path = write(tmp_path, json.dumps(data), "saved.json")
    assert load_policy(path).boxes == BoxRules(min_visibility=0.5)
    assert load_policy(A.to_dict(serialized_compose())).serialized == load_policy(path).serialized


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        ({"transforms": []}, ["unknown key 'transforms' beside an albumentations serialized pipeline"]),
        ({"backend": "imgaug"}, ["needs backend 'albumentations'"]),
        ({"transform": [1]}, ["'transform' must be a mapping"]),
        ({"transform": None, "__version__": "2.0.8"}, ["'transform' must be a mapping"]),
    ],
)
def test_serialized_pipeline_mistakes(extra: dict, fragments: list[str], tmp_path: Path) -> None:
    data = {**A.to_dict(serialized_compose()), **extra}
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, json.dumps(data, indent=1), "saved.json"))
    assert caught.value.field and caught.value.field.startswith("line ")
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_version_without_transform_is_refused() -> None:
    with pytest.raises(PolicyError, match="'transform' is missing"):
        load_policy({"__version__": "2.0.8"})


# --- to_json, equality, describe ---------------------------------------------------------------------------------


def all_kinds_of_policy(tmp_path: Path) -> list[Policy]:
    saved = tmp_path / "saved.yaml"
    A.save(serialized_compose(), str(saved), data_format="yaml")
    return [load_policy(name) for name in ("light", "medium", "heavy")] + [
        load_policy(write(tmp_path, GOOD)),
        load_policy(saved),
    ]


def test_to_json_round_trips(tmp_path: Path) -> None:
    for policy in all_kinds_of_policy(tmp_path):
        data = policy.to_json()
        text = json.dumps(data)
        assert json.loads(text) == data  # plain JSON data
        again = load_policy(data)
        assert again == policy and again.to_json() == data and again.source == "<mapping>"
        assert load_policy(write(tmp_path, text, "again.json")) == policy  # and it is a valid policy file


def test_to_json_is_deterministic_and_sorted(tmp_path: Path) -> None:
    one = load_policy({"transforms": [{"Affine": {"rotate": [-5, 5], "p": 0.5}}], "boxes": {"min_area": 2}})
    two = load_policy({"boxes": {"min_area": 2.0}, "transforms": [{"Affine": {"p": 0.5, "rotate": [-5, 5]}}]})
    assert one == two and json.dumps(one.to_json()) == json.dumps(two.to_json())
    assert list(one.to_json()) == ["backend", "boxes", "transforms"]
    assert list(one.to_json()["transforms"][0]["Affine"]) == ["p", "rotate"]
    assert one.to_json()["boxes"] == {"box_shape": "corners", "min_area": 2.0, "min_size": 1.0, "min_visibility": 0.0}


def test_equality_ignores_where_a_policy_came_from_but_not_what_it_does(tmp_path: Path) -> None:
    from_file = load_policy(write(tmp_path, GOOD))
    assert load_policy(from_file.to_json()) == from_file  # lines and source differ, the policy does not
    changed = from_file.to_json()
    changed["transforms"][0]["HorizontalFlip"]["p"] = 0.25
    assert load_policy(changed) != from_file


def test_policies_pickle_for_worker_processes(tmp_path: Path) -> None:
    for policy in all_kinds_of_policy(tmp_path):
        again = pickle.loads(pickle.dumps(policy))
        assert again == policy and again.source == policy.source
        assert [s.line for s in again.transforms] == [s.line for s in policy.transforms]


def test_spec_field_names_line_index_and_transform() -> None:
    assert spec_field(2, TransformSpec("Affine", {}, 7)) == "line 7: transforms[2] Affine"
    assert spec_field(0, TransformSpec("CLAHE", {}, None)) == "transforms[0] CLAHE"
    assert suggest("rotation", ["rotate", "scale"]) == " (did you mean 'rotate'?)"
    assert suggest("zzz", ["rotate", "scale"]) == ""


def test_describe_lists_one_line_per_transform(tmp_path: Path) -> None:
    text = describe(load_policy(write(tmp_path, GOOD)))
    lines = text.splitlines()
    assert len(lines) == 4 and str(tmp_path / "policy.yaml") in lines[0] and "min_visibility=0.3" in lines[0]
    assert lines[1].split() == ["1.", "HorizontalFlip", "p=0.5"]
    assert lines[2].split() == ["2.", "Affine", "p=0.7", "rotate=[-15,", "15]", "scale=[0.9,", "1.1]"]
    assert lines[3].split() == ["3.", "RandomBrightnessContrast"]
    heavy = describe(load_policy("heavy")).splitlines()
    assert len(heavy) == 1 + len(load_policy("heavy").transforms) and "CLAHE" in heavy[10]


def test_describe_a_serialized_pipeline() -> None:
    lines = describe(load_policy(A.to_dict(serialized_compose()))).splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["HorizontalFlip", "OneOf", "Affine", "Perspective"]
    assert "p=0.4" in lines[3] and lines[4].startswith("      Affine")


# --- with the real backend ------------------------------------------------------------------------------------


def test_real_backend_accepts_every_preset() -> None:
    for name in ("light", "medium", "heavy"):
        assert load_policy(name).source == f"preset:{name}"


def test_real_backend_names_file_and_line_of_a_bad_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, "transforms:\n  - HorizontalFlip: {p: 0.5}\n\n  - Affine: {rotation: 10}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.file == str(path) and caught.value.field == "line 4: transforms[1] Affine"
    assert "rotation" in caught.value.message


def test_a_preprocess_list_gives_typed_steps_and_round_trips(tmp_path: Path) -> None:
    text = (
        "preprocess:\n  - clahe: {clip: 3, grid: 4}\n  - grayscale\n  - letterbox: 640\n"
        "transforms:\n  - HorizontalFlip: {p: 0.5}\n"
    )
    policy = load_policy(write(tmp_path, text))
    assert policy.preprocess == Preprocessing.parse("clahe:clip=3,grid=4;grayscale;letterbox:640")
    data = policy.to_json()
    assert data["preprocess"][0] == {"clahe": {"clip": 3.0, "grid": [4, 4]}}
    assert load_policy(data) == policy
    assert "preprocess (every split, before the transforms): clahe:clip=3,grid=4x4" in describe(policy)
    plain = load_policy(write(tmp_path, "transforms:\n  - HorizontalFlip: {p: 0.5}\n"))
    assert not plain.preprocess and "preprocess" not in plain.to_json()
    assert plain != policy


@pytest.mark.parametrize(
    ("entries", "line", "fragment"),
    [
        ("  - clahe\n  - blur: {}\n", 3, "preprocess[1]: unknown step 'blur'"),
        ("  - crop: [1, 2, 3]\n", 2, "preprocess[0]: crop needs y1"),
        ("  - clahe: {clip: -1}\n", 2, "preprocess[0]: clip must be above 0"),
    ],
)
def test_a_wrong_preprocess_step_names_file_and_line(entries: str, line: int, fragment: str, tmp_path: Path) -> None:
    path = write(tmp_path, "preprocess:\n" + entries + "transforms:\n  - HorizontalFlip: {}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: line {line}: ")
    assert fragment in str(caught.value)
    with pytest.raises(PolicyError, match="preprocess must be a list of steps"):
        load_policy(write(tmp_path, "preprocess: clahe\ntransforms:\n  - HorizontalFlip: {}\n"))
