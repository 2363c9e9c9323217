"""Notebook plumbing for the book: read jupytext notebooks, run them with papermill, glue figures.

* :func:`read_notebook` is the MyST-NB reader for ``notebooks/*.py`` (``nb_custom_formats`` in
  ``_config.yml``). It stamps the first code cell's metadata with :func:`qdm.provenance.inputs_fingerprint`
  (hashes of the qdm sources, the environment lock and the data files). jupyter-cache hashes cell
  metadata, so editing ``src/qdm``, the lock or the data re-executes the notebook on the next
  build; jupyter-cache alone only sees the notebook's own cells (MyST-NB issue #299).
* As a Sphinx extension (``extra_extensions: [qdm.nb]``), it also marks every notebook page
  outdated when that fingerprint changed since the last build, so Sphinx re-reads it (Sphinx
  itself only re-reads pages whose own file changed) and the reader above can miss the cache;
  and it warns when the offline MathJax (``mathjax_path`` under ``html_static_path``) is missing.
* :func:`run` converts a jupytext notebook and executes it with papermill's Python API, since
  papermill reads only ``.ipynb``:
  ``python -m qdm.nb run notebooks/01_diffusion_theory.py out.ipynb -p T 200 -p n_qubits 3``.
* :func:`glue_figure` saves a figure with its provenance record (:func:`qdm.provenance.save_figure`)
  and glues it, and its one-line caption note, for ``{glue:figure}`` / ``{glue:text}``.
* :func:`glued_values` reads the glued ``text/plain`` values back from an executed notebook.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from qdm import provenance

__all__ = [
    "FINGERPRINT_KEY",
    "glue_figure",
    "glue_value",
    "glued_values",
    "main",
    "NotebookError",
    "notebook_parameters",
    "parse_parameter",
    "read_notebook",
    "run",
    "setup",
]

_NOTEBOOK_SUFFIXES = (".py", ".ipynb")

FINGERPRINT_KEY = "qdm_inputs"
"""Cell-metadata key of the first code cell holding :func:`qdm.provenance.inputs_fingerprint`."""


def read_notebook(text: str, fmt: str = "py:percent") -> nbformat.NotebookNode:
    """MyST-NB reader: jupytext text -> notebook whose first code cell carries the qdm inputs fingerprint."""
    if not isinstance(text, str):
        raise ValueError(f"text must be the notebook's source as a str, got {type(text).__name__}")
    nb = jupytext.reads(text, fmt=fmt)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    if not code:
        raise ValueError("the notebook has no code cell to carry the inputs fingerprint")
    code[0].metadata[FINGERPRINT_KEY] = provenance.inputs_fingerprint()  # jupyter-cache hashes code cells only
    return nb


def parse_parameter(value: str) -> Any:
    """papermill's ``-p`` typing: True/False/None, then int, then float, else the string itself."""
    if value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[value]
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


class NotebookError(ValueError):
    """A notebook could not be run: its one-line message names the notebook, the parameter or the failing cell."""


def notebook_parameters(nb: nbformat.NotebookNode) -> tuple[str, ...]:
    """Names assigned in the cell tagged ``parameters`` (what ``-p NAME VALUE`` may set), in order."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise NotebookError("the notebook has no cell tagged 'parameters'")
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as err:
        raise NotebookError(f"the parameters cell is not valid Python: {err.msg} (line {err.lineno})") from None
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id not in names:
                names.append(target.id)
    return tuple(names)


def _execution_error(src: Path, err: Exception) -> NotebookError:
    """papermill's ``PapermillExecutionError`` as one line: notebook, cell, exception type and message."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = str(getattr(err, "evalue", err)).strip().splitlines()
    cell = getattr(err, "exec_count", None)
    where = f" (cell [{cell}])" if cell is not None else ""
    return NotebookError(f"{src}{where}: {ename}: {evalue[-1] if evalue else ''}")


def _load(notebook: Path) -> nbformat.NotebookNode:
    """Read an .ipynb, or a jupytext text notebook through :func:`read_notebook`."""
    if notebook.suffix == ".ipynb":
        return nbformat.read(notebook, as_version=4)
    return read_notebook(notebook.read_text(encoding="utf-8"), fmt=notebook.suffix.lstrip("."))


def run(
    notebook: Path | str,
    output: Path | str,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    cwd: Path | str | None = None,
    timeout: int = 1800,
) -> nbformat.NotebookNode:
    """Execute a jupytext (or .ipynb) notebook with papermill, injecting ``parameters`` after its parameters cell."""
    import papermill  # heavy, only needed to execute

    src = Path(notebook)
    if not src.is_file():
        raise NotebookError(f"notebook: {str(src)!r} is not a file")
    if src.suffix not in _NOTEBOOK_SUFFIXES:
        raise NotebookError(f"notebook: {str(src)!r} must be a jupytext .py or an .ipynb file")
    out = Path(output)
    if out.suffix != ".ipynb":
        raise NotebookError(f"output must end in .ipynb, got {str(out)!r}")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise NotebookError(f"parameters must be a mapping name -> value, got {type(parameters).__name__}")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise NotebookError(f"timeout must be a positive number of seconds, got {timeout!r}")
    nb = _load(src)
    try:
        known = notebook_parameters(nb)
    except NotebookError as err:
        raise NotebookError(f"notebook {str(src)!r}: {err}") from None
    unknown = sorted(set(parameters or {}) - set(known))
    if unknown:
        raise NotebookError(
            f"unknown parameter(s) {', '.join(unknown)} for {src.name}; its parameters are: {', '.join(known)}"
        )
    kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Execute into a temporary file beside the output and move it into place only on success,
    # so a failed run leaves no half-executed notebook at the output path.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".ipynb", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        executed = papermill.execute_notebook(
            nb,
            str(tmp),
            parameters=dict(parameters or {}),
            kernel_name=kernel,
            cwd=str(cwd if cwd is not None else src.resolve().parent),
            progress_bar=False,
            execution_timeout=timeout,
        )
        os.replace(tmp, out)
    except papermill.PapermillExecutionError as err:
        raise _execution_error(src, err) from err
    finally:
        tmp.unlink(missing_ok=True)
    return executed


def glue_value(name: str, value: Any) -> None:
    """Glue a number or string for ``{glue:text}`` (numpy/torch scalars become Python numbers first).

    Returns None, so that a call on a cell's last line adds no output to the page.
    """
    from myst_nb import glue  # only inside a notebook

    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        value = item()
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"value for {name!r} must be a number or a string (or a 0-d scalar), got {type(value).__name__}")
    glue(name, value, display=False)


def glue_figure(
    name: str,
    fig: Any,
    record: Mapping[str, Any],
    data: Any | None = None,
    out_dir: Path | str | None = None,
) -> None:
    """Save ``fig`` with its provenance record (PNG/SVG/JSON/CSV), glue it as ``name`` and its note as ``name-note``.

    The files go to ``out_dir`` (default ``results_dir()/figures``); returns None, like :func:`glue_value`.
    """
    import matplotlib.pyplot as plt
    from myst_nb import glue

    directory = Path(out_dir) if out_dir is not None else provenance.results_dir() / "figures"
    provenance.save_figure(fig, name, directory, record, data=data)
    glue(name, fig, display=False)
    glue(f"{name}-note", provenance.caption_note(record), display=False)
    plt.close(fig)


def glued_values(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Glued ``text/plain`` values of an executed notebook, by glue key (what ``{glue:text}`` shows)."""
    values: dict[str, str] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if not scrapbook:
                continue
            mime = scrapbook.get("mime_prefix", "") + "text/plain"
            if mime in output.get("data", {}):
                values[scrapbook["name"]] = output["data"][mime]
    return values



def _outdated_notebooks(app: Any, env: Any, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """Sphinx ``env-get-outdated``: every notebook page, when the inputs fingerprint changed since the last build."""
    current = provenance.inputs_fingerprint()
    previous = getattr(env, "qdm_inputs_fingerprint", None)
    env.qdm_inputs_fingerprint = current
    if previous is None or previous == current:
        return []
    return sorted(
        doc for doc in env.found_docs
        if str(env.doc2path(doc)).endswith(_NOTEBOOK_SUFFIXES) and doc not in added | changed
    )


def _check_local_mathjax(app: Any) -> None:
    """Sphinx ``builder-inited``: warn when a local ``mathjax_path`` is missing from every html_static_path."""
    path = getattr(app.config, "mathjax_path", "") or ""
    if getattr(app.builder, "format", "") != "html" or "://" in path or path.startswith("/"):
        return
    confdir = Path(app.confdir)
    if not any((confdir / static / path).is_file() for static in app.config.html_static_path):
        from sphinx.util import logging

        logging.getLogger(__name__).warning(
            "mathjax_path %r is not in html_static_path %s: maths will not render offline; "
            "run scripts/setup-mathjax.sh (make book does)", path, list(app.config.html_static_path)
        )


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension entry point: re-read notebook pages when qdm sources, lock or data changed."""
    app.connect("env-get-outdated", _outdated_notebooks)
    app.connect("builder-inited", _check_local_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def _parser() -> argparse.ArgumentParser:
    """Command line: ``python -m qdm.nb run NOTEBOOK OUTPUT [-p NAME VALUE]... [-f PARAMS.yaml]``."""
    parser = argparse.ArgumentParser(prog="python -m qdm.nb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("run", help="execute a jupytext notebook with papermill")
    cmd.add_argument("notebook", type=Path)
    cmd.add_argument("output", type=Path)
    cmd.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    cmd.add_argument("-f", "--parameters-file", type=Path, help="YAML file of parameters (applied before -p)")
    cmd.add_argument("-k", "--kernel", default=None, help="kernel name (default: the notebook's kernelspec)")
    cmd.add_argument("--cwd", type=Path, default=None, help="working directory (default: the notebook's folder)")
    cmd.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    cmd.add_argument("--debug", action="store_true", help="show the Python traceback of a failure (also QDM_DEBUG=1)")
    return parser


def _read_parameters_file(path: Path) -> dict[str, Any]:
    """The YAML mapping of ``-f PARAMS.yaml``; a missing file or a non-mapping is a NotebookError."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise NotebookError(f"parameters file {str(path)!r} cannot be read: {err}") from None
    if not isinstance(loaded, dict):
        raise NotebookError(f"parameters file {str(path)!r} must hold a mapping name -> value")
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m qdm.nb``; returns the exit status (2 with a one-line error on failure)."""
    args = _parser().parse_args(argv)
    debug = args.debug or os.environ.get("QDM_DEBUG", "") not in ("", "0")
    try:
        params: dict[str, Any] = {}
        if args.parameters_file is not None:
            params.update(_read_parameters_file(args.parameters_file))
        params.update({name: parse_parameter(value) for name, value in args.parameter})
        run(args.notebook, args.output, params, kernel_name=args.kernel, cwd=args.cwd, timeout=args.timeout)
    except (NotebookError, ValueError, OSError) as err:
        if debug:
            traceback.print_exc()
        print(f"python -m qdm.nb: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m qdm.nb: interrupted; no output notebook was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
