"""The package imports lazily: `import bboxaug` and what an augment worker imports stay light. Each check runs in a
fresh interpreter, so what the test run itself has imported does not count."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "cv2", "albumentations", "PIL")


def modules_after(code: str) -> set[str]:
    """The top-level names and bboxaug modules in sys.modules after running `code` in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.splitlines()[-1]))


def bboxaug_modules(modules: set[str], under: str) -> list[str]:
    return sorted(name for name in modules if name == under or name.startswith(f"{under}."))


def test_import_bboxaug_loads_nothing_heavy_and_no_format() -> None:
    loaded = modules_after("import bboxaug")
    assert [name for name in HEAVY if name in loaded] == []
    assert bboxaug_modules(loaded, "bboxaug.formats") == []


def test_a_public_name_loads_its_module_on_first_use() -> None:
    loaded = modules_after(
        "import bboxaug, sys\n"
        "assert 'bboxaug.pipeline.source' not in sys.modules\n"
        "assert callable(bboxaug.load) and bboxaug.load.__module__ == 'bboxaug.pipeline.source'"
    )
    assert "bboxaug.pipeline.source" in loaded
    assert bboxaug_modules(loaded, "bboxaug.formats")  # reading needs the adapters, and now has them


def test_every_public_name_resolves() -> None:
    modules_after(
        "import bboxaug\n"
        "missing = [name for name in bboxaug.__all__ if getattr(bboxaug, name, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(bboxaug.__all__) <= set(dir(bboxaug))"
    )


def test_an_unknown_name_is_an_attribute_error() -> None:
    modules_after(
        "import bboxaug\n"
        "try:\n    bboxaug.no_such_name\nexcept AttributeError as error:\n"
        "    assert 'no_such_name' in str(error)\nelse:\n    raise SystemExit('no AttributeError')"
    )


@pytest.fixture(scope="module")
def worker_modules() -> set[str]:
    """What a worker process that makes augmented copies imports."""
    return modules_after("import bboxaug.augmentation.worker")


@pytest.mark.parametrize("layer", ["bboxaug.formats", "bboxaug.pipeline", "bboxaug.commands", "bboxaug.cli"])
def test_an_augment_worker_imports_no_adapter_pipeline_or_command(layer: str, worker_modules: set[str]) -> None:
    assert bboxaug_modules(worker_modules, layer) == []
