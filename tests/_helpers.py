"""Helpers shared by several test files (imported as ``from _helpers import ...``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdm import nb as qnb


def parameter_cells(notebook: Path) -> tuple[str, str]:
    """Sources of a notebook's cell tagged ``parameters`` and of the code cell right after it (its validation)."""
    parsed = qnb.read_notebook(notebook.read_text())
    code = [c for c in parsed.cells if c.cell_type == "code"]
    index = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    return code[index].source, code[index + 1].source


def assert_rejects(notebook: Path, parameter: str, value: object, match: str | None = None) -> None:
    """The validation cell raises ValueError (``match``, default ``^<parameter> must``) after papermill's injection."""
    defaults, validation = parameter_cells(notebook)
    namespace: dict = {}
    exec(defaults + f"\n{parameter} = {value!r}\n", namespace)  # what papermill's injected cell does
    with pytest.raises(ValueError, match=match or rf"^{parameter} must"):
        exec(validation, namespace)
