"""Fail when a bboxaug module reaches itself through imports: top-level, function-level (lazy) and
`if TYPE_CHECKING:` imports all count.

import-linter's layers contract catches cycles between layers; this catches those inside a layer or a package.
Run it with the project's venv: `.venv/bin/python .ci/check_import_cycles.py`.
"""

from __future__ import annotations

import itertools
import sys

import grimp

PACKAGE = "bboxaug"


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each import cycle once, as the modules along it with the first repeated at the end (shortest way back)."""
    found: dict[frozenset[str], list[str]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.setdefault(frozenset(back), [importer, *back])
    return list(found.values())


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    """One cycle, a line per step with the import statements that make it."""
    steps = []
    for importer, imported in itertools.pairwise(cycle):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = "; ".join(f"l.{d['line_number']}: {d['line_contents']}" for d in details)
        steps.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(steps)


def main() -> int:
    graph = grimp.build_graph(PACKAGE, include_external_packages=False, exclude_type_checking_imports=False)
    found = cycles(graph)
    for cycle in found:
        print(f"import cycle:\n{describe(graph, cycle)}")
    print(f"{len(found)} import cycles among {len(graph.modules)} {PACKAGE} modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
