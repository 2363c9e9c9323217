"""The layering of src/qdm holds: every import (module level or inside a function) goes down or sideways, never up,
and the import graph has no circle.  The layers are ``qdm.LAYERS``; the imports are read from the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qdm

SRC = Path(qdm.__file__).resolve().parent


def module_name(path: Path) -> str:
    """Dotted module name of a file under src/qdm."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def qdm_imports(path: Path) -> set[str]:
    """The qdm modules a file imports anywhere (``from qdm import x`` counts as qdm.x when x is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "qdm" or a.name.startswith("qdm.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base != "qdm" and not base.startswith("qdm."):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if _is_module(sub) else base)
    found.discard(name)
    return found


def _is_module(dotted: str) -> bool:
    """True when a dotted qdm name is a module or package file under src/qdm."""
    rel = Path(*dotted.split(".")[1:]) if dotted != "qdm" else Path()
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def rank(module: str, layers: tuple[tuple[str, ...], ...] = qdm.LAYERS) -> tuple[int, int]:
    """(layer, position in layer) of the longest layer entry that prefixes ``module``."""
    best: tuple[int, tuple[int, int]] | None = None
    for i, layer in enumerate(layers):
        for j, entry in enumerate(layer):
            if module == entry or (entry != "qdm" and module.startswith(entry + ".")):
                if best is None or len(entry) > best[0]:
                    best = (len(entry), (i, j))
    if best is None:
        raise AssertionError(f"module {module} is in no layer of qdm.LAYERS; add it there (and to the docstring)")
    return best[1]


def graph() -> dict[str, set[str]]:
    """Module -> the qdm modules it imports, for every .py file under src/qdm."""
    return {module_name(p): qdm_imports(p) for p in sorted(SRC.rglob("*.py"))}


def upward_imports(edges: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = qdm.LAYERS) -> list[str]:
    """'a -> b' for every import of a module b that sits above a."""
    bad = []
    for src, targets in edges.items():
        for dst in targets:
            if rank(dst, layers) > rank(src, layers):
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import circles (each as the list of modules around it), by depth-first search."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_every_module_has_a_layer():
    for module in graph():
        rank(module)


def test_no_import_goes_up():
    assert upward_imports(graph()) == []


def test_no_import_circle():
    assert cycles(graph()) == []


def test_models_import_neither_config_nor_trainer_and_config_loads_no_family():
    edges = graph()
    for module, targets in edges.items():
        if module.startswith("qdm.models"):
            assert not targets & {"qdm.config", "qdm.train"}, module
    assert not {t for t in edges["qdm.config"] if t.startswith("qdm.families")}
    assert "qdm.diffusion" not in edges["qdm.schedules"]


def test_the_checks_can_fail():
    """A planted upward import, an unlisted module and a circle are each caught."""
    edges = graph()
    planted = {**edges, "qdm.schedules": edges["qdm.schedules"] | {"qdm.diffusion"}}
    assert upward_imports(planted) == ["qdm.schedules -> qdm.diffusion"]
    assert cycles(planted) and {"qdm.schedules", "qdm.diffusion"} <= set(cycles(planted)[0])
    with pytest.raises(AssertionError, match="in no layer"):
        rank("qdm.newfloor")
    # the family registry moved below config: with families listed under config, config -> registry is fine
    # but families -> config becomes upward
    swapped = tuple(layer for layer in qdm.LAYERS if "qdm.families" not in layer)
    swapped = swapped[:8] + (next(layer for layer in qdm.LAYERS if "qdm.families" in layer),) + swapped[8:]
    assert any(b.startswith("qdm.families") and b.endswith("-> qdm.config") for b in upward_imports(edges, swapped))


def test_relative_and_from_imports_are_read(tmp_path):
    """``from qdm import diffusion`` names the module; ``from qdm.diffusion import q_sample`` names its module."""
    assert "qdm.diffusion" in qdm_imports(SRC / "models" / "pqc_denoiser.py")
    assert "qdm.io" in qdm_imports(SRC / "runner.py")  # from qdm import io as qio


def test_importing_a_layer_loads_nothing_above_it():
    """At run time too: qdm.config loads no family, qdm.models neither config nor trainer; qdm.families fills the registry."""
    import subprocess
    import sys

    code = (
        "import sys, qdm.config, qdm.models, qdm.models.pqc_denoiser, qdm.models.depolarizing, qdm.models.autoencoder, "
        "qdm.models.ano\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('qdm.families', 'qdm.train', 'qdm.presets', 'qdm.runner')))\n"
        "assert not bad, bad\n"
        "from qdm.registry import FAMILIES\n"
        "assert not FAMILIES\n"
        "import qdm.families\n"
        "assert sorted(FAMILIES) == ['ano_hybrid', 'depolarizing_qdm', 'hybrid_ddpm', 'pqc_denoiser'], sorted(FAMILIES)\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(SRC.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
