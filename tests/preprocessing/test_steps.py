"""The STEPS grammar, the list form of policy files and manifests, and the checks: one typed spec whatever the form,
and every mistake named by its step."""

from __future__ import annotations

import json

import pytest

from bboxaug.core.errors import ImageError, UsageError
from bboxaug.preprocessing.steps import AutoContrast, Clahe, Crop, Grayscale, Preprocessing, Resize


def test_the_grammar_gives_typed_steps_in_order() -> None:
    steps = Preprocessing.parse(
        "clahe:clip=3.5,grid=4x6; grayscale ;autocontrast:0.5,99.5;crop:10,20,300,200;letterbox:640"
    )
    assert steps.steps == (
        Clahe(3.5, (4, 6)),
        Grayscale(3),
        AutoContrast(0.5, 99.5),
        Crop(10, 20, 300, 200),
        Resize((640, 640), "letterbox", 114),
    )
    assert steps.geometric


def test_defaults_and_positional_values_fill_the_parameters_in_order() -> None:
    assert Preprocessing.parse("clahe").steps == (Clahe(2.0, (8, 8)),)
    assert Preprocessing.parse("clahe:3,16").steps == (Clahe(3.0, (16, 16)),)
    assert Preprocessing.parse("grayscale:channels=1").steps == (Grayscale(1),)
    assert Preprocessing.parse("resize:640x480,fit").steps == (Resize((640, 480), "fit"),)
    assert Preprocessing.parse("resize:512,mode=stretch,pad=0").steps == (Resize((512, 512), "stretch", 0),)
    assert Preprocessing.parse("crop:x0=1,y0=2,x1=3,y1=4").steps == (Crop(1, 2, 3, 4),)
    assert not Preprocessing.parse("   ")
    assert not Preprocessing.parse("clahe;grayscale").geometric


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("clahe;crop:10,20", ["step 2 'crop:10,20'", "crop needs x1,y1"]),
        ("blur", ["step 1 'blur'", "unknown step 'blur'", "clahe, grayscale"]),
        ("clahe:clip=0", ["step 1", "clip must be above 0"]),
        ("clahe:clip=x", ["clip must be a number, not 'x'"]),
        ("clahe:grid=0", ["grid must be N or NxM tiles"]),
        ("clahe:size=3", ["clahe has no parameter 'size'", "clip, grid"]),
        ("clahe:clip=2,clip=3", ["clip is given twice"]),
        ("clahe:3,clip=2", ["clip is given twice"]),
        ("clahe:clip=2,8", ["value '8' after a named one"]),
        ("grayscale:2", ["channels must be 1 or 3"]),
        ("autocontrast:low=50,high=10", ["0 <= low < high <= 100"]),
        ("crop:30,0,10,10", ["0 <= x0 < x1"]),
        ("crop:-1,0,10,10", ["0 <= x0 < x1"]),
        ("crop:1.5,0,10,10", ["x0 must be a whole number"]),
        ("crop:1,2,3,4,5", ["crop takes at most 4 values"]),
        ("letterbox", ["letterbox needs size"]),
        ("resize:640,mode=pad", ["mode must be one of letterbox, fit, stretch"]),
        ("letterbox:640,pad=300", ["pad must be a grey level"]),
        ("clahe;;grayscale", ["step 2 ''", "empty step"]),
    ],
)
def test_each_mistake_names_its_step(text: str, fragments: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        Preprocessing.parse(text)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_the_recorded_list_reads_back_the_same_steps_with_every_parameter() -> None:
    steps = Preprocessing.parse("clahe;grayscale:1;autocontrast;crop:1,2,30,40;resize:64x48,fit")
    recorded = json.loads(json.dumps(steps.to_json()))
    assert recorded == [
        {"clahe": {"clip": 2.0, "grid": [8, 8]}},
        {"grayscale": {"channels": 1}},
        {"autocontrast": {"low": 1.0, "high": 99.0}},
        {"crop": {"x0": 1, "y0": 2, "x1": 30, "y1": 40}},
        {"resize": {"size": [64, 48], "mode": "fit", "pad": 114}},
    ]
    assert Preprocessing.from_json(recorded) == steps
    assert Preprocessing.parse(steps.describe()) == steps
    assert steps.describe() == (
        "clahe:clip=2,grid=8x8;grayscale:channels=1;autocontrast:low=1,high=99;crop:x0=1,y0=2,x1=30,y1=40;"
        "resize:size=64x48,mode=fit,pad=114"
    )


def test_list_entries_take_text_mappings_values_and_lists() -> None:
    steps = Preprocessing.from_json(
        ["clahe:clip=3", {"grayscale": None}, {"letterbox": 320}, {"crop": [0, 0, 100, 50]}, {"clahe": {"grid": "4x2"}}]
    )
    assert steps.steps == (
        Clahe(3.0),
        Grayscale(),
        Resize((320, 320)),
        Crop(0, 0, 100, 50),
        Clahe(2.0, (4, 2)),
    )
    with pytest.raises(UsageError, match=r"preprocess\[1\]: .*one `name: \{params\}` mapping"):
        Preprocessing.from_json(["clahe", {"clahe": {}, "grayscale": {}}])
    with pytest.raises(UsageError, match="a list, not str"):
        Preprocessing.from_json("clahe")  # type: ignore[arg-type]  # the mistake under test


def test_of_takes_every_form() -> None:
    steps = Preprocessing.parse("clahe")
    assert Preprocessing.of(steps) is steps
    assert Preprocessing.of("clahe") == steps == Preprocessing.of([{"clahe": {}}])
    assert Preprocessing.of(None) == Preprocessing()


def test_a_crop_is_cut_to_the_image_and_refuses_an_image_it_does_not_reach() -> None:
    crop = Crop(10, 20, 300, 200)
    assert crop.window(1000, 1000) == (10, 20, 300, 200)
    assert crop.window(100, 50) == (10, 20, 100, 50)
    with pytest.raises(ImageError, match="lies outside the 10x100 image") as caught:
        crop.window(10, 100)
    assert caught.value.code == "crop_outside_image"
