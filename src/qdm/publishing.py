"""Publishing the book: citable figures with their files, and notebooks a reader can download and rerun.

A Sphinx extension (``extra_extensions: [qdm.publishing]`` in ``_config.yml``) that works on the
built pages only, so the notebooks need nothing beyond what :func:`qdm.nb.glue_figure` already does:

* Under every figure whose name (``:name: fig-...``, also its stable anchor) matches a figure saved by
  :func:`qdm.provenance.save_figure`, it adds links to that figure's PNG, SVG, CSV of the plotted
  data and JSON provenance record, copied into the site under ``_figures/<page>/``, and a
  *cite this figure* entry (:func:`figure_citation`: number, title, book citation, commit).
  A ``fig-`` figure with no saved files is a Sphinx warning, so ``-W`` fails the build.
* At the top of every notebook page it adds the notebook as ``.ipynb`` (:func:`notebook_to_ipynb`,
  converted by jupytext, with the papermill ``parameters`` cell kept) under ``_notebooks/``, and
  the exact commands that execute it again (:func:`rerun_commands`).
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from qdm import provenance

__all__ = [
    "BOOK_AUTHOR",
    "BOOK_TITLE",
    "BOOK_VERSION",
    "BOOK_YEAR",
    "FIGURE_DIR",
    "NOTEBOOK_DIR",
    "book_citation",
    "figure_citation",
    "figure_files",
    "figure_title",
    "notebook_to_ipynb",
    "rerun_commands",
    "setup",
]

BOOK_AUTHOR = "qdm contributors"
BOOK_TITLE = "qdm: quantum diffusion models, executable"
BOOK_YEAR = 2025
BOOK_VERSION = "0.1.0"
FIGURE_DIR = "_figures"
"""Folder of the built site holding every figure's files, one subfolder per page."""
NOTEBOOK_DIR = "_notebooks"
"""Folder of the built site holding every notebook as ``.ipynb``."""
_EXTENSIONS = ("png", "svg", "csv", "json")
_LINK_TEXT = {"png": "PNG", "svg": "SVG", "csv": "data (CSV)", "json": "provenance (JSON)"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def book_citation() -> str:
    """The book as one reference line (the same record as CITATION.cff and the How to cite page)."""
    return f"{BOOK_AUTHOR} ({BOOK_YEAR}). {BOOK_TITLE}. Version {BOOK_VERSION}."


def figure_title(caption: str) -> str:
    """A figure's title: the first sentence of its caption, without the provenance note."""
    if not isinstance(caption, str):
        raise ValueError(f"caption must be a str, got {type(caption).__name__}")
    text = " ".join(caption.split()).split("Provenance:")[0].strip()
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    title = (match.group(1) if match else text).strip()
    return title.rstrip(".") if title else "untitled"


def figure_citation(number: str | None, title: str, url: str, record: Mapping[str, Any]) -> str:
    """The "cite this figure" text: figure number and title, the book citation, the page anchor, the commit."""
    if not isinstance(record, Mapping) or "git" not in record:
        raise ValueError("record must be a provenance record from qdm.provenance.record() (it needs 'git')")
    git = record["git"] or {}
    if git.get("available") and git.get("commit"):
        commit = f"commit {git['commit'][:12]}" + (" with uncommitted changes" if git.get("dirty") else "")
    else:
        commit = "no git commit recorded"
    label = f"Figure {number}" if number else "Figure"
    return f"{label}: {title}. In: {book_citation()} {url} ({commit})."


def _record_matches(record: Mapping[str, Any], name: str, producer: str | None) -> bool:
    """A sidecar describes figure ``name`` (and, when given, was made by ``producer``)."""
    if record.get("figure") != name:
        return False
    return producer is None or record.get("producer") in (None, producer)


def figure_files(name: str, root: Path | str | None = None, producer: str | None = None) -> dict[str, Path]:
    """The saved files of figure ``name`` (png/svg/csv/json present) under ``root`` (default results_dir()/figures).

    The newest matching provenance record wins; an empty dict when the figure was never saved.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name must be a figure name (letters, digits, '_', '.', '-'), got {name!r}")
    base = Path(root) if root is not None else provenance.results_dir() / "figures"
    if not base.is_dir():
        return {}
    found: list[tuple[float, Path, dict[str, Any]]] = []
    for sidecar in base.rglob(f"{name}.json"):
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and _record_matches(record, name, producer):
            found.append((sidecar.stat().st_mtime, sidecar, record))
    if not found:
        return {}
    _, sidecar, record = max(found, key=lambda item: (item[0], str(item[1])))
    files = {"json": sidecar}
    for ext, entry in (record.get("files") or {}).items():
        path = sidecar.parent / str(entry.get("file", ""))
        if ext in _EXTENSIONS and path.is_file():
            files[ext] = path
    return {ext: files[ext] for ext in _EXTENSIONS if ext in files}


def notebook_to_ipynb(source: Path | str) -> nbformat.NotebookNode:
    """A jupytext notebook as an unexecuted ``.ipynb`` notebook, cell tags (``parameters``) and kernelspec kept."""
    import jupytext  # only needed when building

    path = Path(source)
    if not path.is_file():
        raise ValueError(f"source: {str(path)!r} is not a file")
    nb = jupytext.read(path)
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    nb.metadata.pop("jupytext", None)
    if not any("parameters" in cell.metadata.get("tags", []) for cell in nb.cells):
        raise ValueError(f"source: {str(path)!r} has no cell tagged 'parameters' for papermill")
    return nb


def rerun_commands(source: str) -> dict[str, str]:
    """The commands that execute notebook ``source`` (path from the repository root) again with papermill."""
    if not isinstance(source, str) or not source.endswith(".py") or source.startswith("/"):
        raise ValueError(f"source must be a relative path to a jupytext .py notebook, got {source!r}")
    stem = posixpath.splitext(posixpath.basename(source))[0]
    return {
        "qdm": f"python -m qdm.nb run {source} {stem}.out.ipynb",
        "papermill": f"papermill {stem}.ipynb {stem}.out.ipynb",
    }


# ---------------------------------------------------------------------------------- Sphinx


def _logger() -> Any:
    from sphinx.util import logging

    return logging.getLogger(__name__)


def _relative(app: Any, docname: str, target: str) -> str:
    """URI of site path ``target`` as seen from page ``docname``."""
    from sphinx.util.osutil import relative_uri

    return relative_uri(app.builder.get_target_uri(docname), target)


def _notebook_source(app: Any, docname: str) -> str | None:
    """Repository-relative path of the page's jupytext source, when the page is a ``.py`` notebook."""
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".py":
        return None
    try:
        return path.resolve().relative_to(Path(app.srcdir).resolve()).as_posix()
    except ValueError:
        return None


def _literal(text: str, language: str = "bash") -> Any:
    from docutils import nodes

    block = nodes.literal_block(text, text)
    block["language"] = language
    return block


def _add_run_box(app: Any, doctree: Any, docname: str, source: str) -> None:
    """The notebook's ``.ipynb`` under _notebooks/ and a box with its download link and rerun commands."""
    from docutils import nodes

    stem = posixpath.splitext(posixpath.basename(source))[0]
    target = Path(app.outdir) / NOTEBOOK_DIR / f"{stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook_to_ipynb(Path(app.srcdir) / source), target)
    commands = rerun_commands(source)
    box = nodes.admonition(classes=["qdm-run", "note"])
    box += nodes.title("", "Run this notebook")
    para = nodes.paragraph()
    para += nodes.Text("Download ")
    para += nodes.reference("", f"{stem}.ipynb", refuri=_relative(app, docname, f"{NOTEBOOK_DIR}/{stem}.ipynb"),
                            classes=["qdm-ipynb"])
    para += nodes.Text(" (its parameters cell is tagged for papermill) and execute it again with")
    box += para
    box += _literal(commands["papermill"])
    box += nodes.paragraph("", "or, in a checkout of the repository (override a parameter with -p NAME VALUE):")
    box += _literal(commands["qdm"])
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        doctree.insert(0, box)
    else:
        section.insert(1 if section.children and isinstance(section[0], nodes.title) else 0, box)


def _caption_text(caption: Any) -> str:
    """A caption as plain text, its maths kept as ``$TeX$`` (so that a copied citation still reads right)."""
    from docutils import nodes

    parts: list[str] = []
    for node in caption.findall(lambda n: isinstance(n, (nodes.Text, nodes.math))):
        if isinstance(node, nodes.math):
            parts.append(f"${node.astext()}$")
        elif not isinstance(node.parent, nodes.math):
            parts.append(node.astext())
    return "".join(parts)


def _figure_name(node: Any) -> str | None:
    for name in list(node.get("names", [])) + list(node.get("ids", [])):
        if name.startswith("fig-") and _NAME_RE.match(name):
            return name
    return None


def _add_figure_files(app: Any, doctree: Any, docname: str, producer: str | None) -> None:
    """Copy each figure's files into the site and add their links and a citation under the figure."""
    from docutils import nodes

    numbers = getattr(app.env, "toc_fignumbers", {}).get(docname, {}).get("figure", {})
    base_url = (getattr(app.config, "html_baseurl", "") or "").rstrip("/")
    for figure in list(doctree.findall(nodes.figure)):
        name = _figure_name(figure)
        if name is None:
            continue
        files = figure_files(name, producer=producer)
        if "json" not in files:
            _logger().warning("figure %r has no saved files (PNG/SVG/CSV/JSON) under %s; run its notebook",
                              name, provenance.results_dir() / "figures", location=figure)
            continue
        site_dir = f"{FIGURE_DIR}/{docname}"
        out = Path(app.outdir) / site_dir
        out.mkdir(parents=True, exist_ok=True)
        para = nodes.paragraph(classes=["qdm-figure-files"])
        para += nodes.Text("Download: ")
        for i, (ext, path) in enumerate(files.items()):
            shutil.copyfile(path, out / path.name)
            if i:
                para += nodes.Text(" · ")
            para += nodes.reference("", _LINK_TEXT[ext], refuri=_relative(app, docname, f"{site_dir}/{path.name}"),
                                    classes=[f"qdm-{ext}"])
        record = json.loads(files["json"].read_text(encoding="utf-8"))
        number = numbers.get(figure["ids"][0]) if figure.get("ids") else None
        captions = [c for c in figure.children if isinstance(c, nodes.caption)]
        title = figure_title(_caption_text(captions[0])) if captions else name
        page = app.builder.get_target_uri(docname)
        url = f"{base_url}/{page}#{name}" if base_url else f"{page}#{name}"
        cite = figure_citation(".".join(map(str, number)) if number else None, title, url, record)
        details = nodes.container(classes=["qdm-figure-cite"])
        details += para
        details += nodes.paragraph("", "Cite this figure:")
        details += _literal(cite, language="text")
        figure += details


def _doctree_resolved(app: Any, doctree: Any, docname: str) -> None:
    """Sphinx ``doctree-resolved``: the run box of a notebook page and the files under its figures."""
    if getattr(app.builder, "format", "") != "html":
        return
    source = _notebook_source(app, docname)
    if source is not None:
        _add_run_box(app, doctree, docname, source)
    _add_figure_files(app, doctree, docname, source)


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Sphinx ``html-page-context``: drop repeated inline scripts.

    sphinx-thebe and sphinx-togglebutton register their inline configuration scripts twice (once with
    filename None, once with ""), and a repeated ``const THEBE_JS_URL`` is a SyntaxError in the browser.
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        name = getattr(script, "filename", script) or ""  # an inline script's filename is None or ""
        key = (str(name), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension entry point."""
    app.connect("doctree-resolved", _doctree_resolved)
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
