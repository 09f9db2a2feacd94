"""docs/internals.md names HARP's shared APIs: every name its code blocks import must exist, so the page
cannot drift from the code (the signatures themselves are in the docstrings it points to)."""

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "internals.md"
IMPORT = re.compile(r"^from (harp[\w.]*) import ([\w, ]+)")


def test_every_name_docs_internals_imports_exists():
    imports = [IMPORT.match(line.strip()) for line in DOC.read_text(encoding="utf-8").splitlines()]
    imports = [match for match in imports if match]
    assert len(imports) > 20  # the page really lists the APIs
    missing = [
        f"{module}.{name.strip()}"
        for module, names in (m.groups() for m in imports)
        for name in names.split(",")
        if name.strip() and not hasattr(importlib.import_module(module), name.strip())
    ]
    assert not missing, missing
