"""qdm.publishing: figure files and citations under each figure, notebooks as .ipynb with their rerun
commands, checked on its functions and on a tiny Sphinx site built with the extension."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import papermill
import pytest

from qdm import provenance, publishing

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))


def _save(out_dir: Path, name: str, producer: str | None = "notebooks/x.py") -> dict[str, Path]:
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [1, 0])
    record = provenance.record({"T": 3}, seed=0, producer=producer)
    files = provenance.save_figure(fig, name, out_dir, record, data=pd.DataFrame({"t": [0, 1], "y": [1, 0]}))
    plt.close(fig)
    return files


# ---------------------------------------------------------------------------------- functions


def test_figure_title_is_the_first_sentence_without_the_provenance_note() -> None:
    assert publishing.figure_title("Loss per step, per seed. Provenance: params T=3.") == "Loss per step, per seed"
    assert publishing.figure_title("Fig with  spaces\n and a line break") == "Fig with spaces and a line break"
    assert publishing.figure_title("Samples at t = 0.5 s. More text.") == "Samples at t = 0.5 s"
    assert publishing.figure_title("") == "untitled"
    with pytest.raises(ValueError, match="^caption must be a str"):
        publishing.figure_title(None)  # type: ignore[arg-type]


def test_figure_citation_names_number_title_book_anchor_and_commit() -> None:
    clean = {"git": {"available": True, "commit": "abcdef0123456789", "dirty": False}}
    text = publishing.figure_citation("4.3", "Loss", "notebooks/04_hybrid_ddpm.html#fig-hybrid-loss", clean)
    assert text == (
        "Figure 4.3: Loss. In: qdm contributors (2025). qdm: quantum diffusion models, executable. Version 0.1.0. "
        "notebooks/04_hybrid_ddpm.html#fig-hybrid-loss (commit abcdef012345)."
    )
    dirty = {"git": {"available": True, "commit": "abcdef0123456789", "dirty": True}}
    assert "(commit abcdef012345 with uncommitted changes)" in publishing.figure_citation("1", "L", "u", dirty)
    none = {"git": {"available": False, "commit": None, "dirty": None}}
    assert publishing.figure_citation(None, "L", "u", none).startswith("Figure: L.")
    assert "no git commit recorded" in publishing.figure_citation(None, "L", "u", none)
    with pytest.raises(ValueError, match="^record must be a provenance record"):
        publishing.figure_citation("1", "L", "u", {"params": {}})


def test_figure_files_finds_the_saved_set_and_only_it(tmp_path: Path) -> None:
    saved = _save(tmp_path / "figures" / "nb", "fig-a")
    _save(tmp_path / "figures" / "nb", "fig-b")
    found = publishing.figure_files("fig-a", root=tmp_path / "figures")
    assert found == {ext: saved[ext] for ext in ("png", "svg", "csv", "json")}
    assert publishing.figure_files("fig-a", root=tmp_path / "figures", producer="notebooks/other.py") == {}
    assert publishing.figure_files("fig-a", root=tmp_path / "figures", producer="notebooks/x.py") == found
    assert publishing.figure_files("fig-c", root=tmp_path / "figures") == {}
    assert publishing.figure_files("fig-a", root=tmp_path / "absent") == {}
    # A JSON file of that name that is not fig-a's record is not taken for it.
    stray = tmp_path / "figures" / "stray" / "fig-b.json"
    stray.parent.mkdir()
    stray.write_text(json.dumps({"figure": "something-else"}))
    assert publishing.figure_files("fig-b", root=tmp_path / "figures")["json"].parent.name == "nb"
    with pytest.raises(ValueError, match="^name must be a figure name"):
        publishing.figure_files("../x", root=tmp_path)


def test_figure_files_prefers_the_newest_record(tmp_path: Path) -> None:
    import os

    old = _save(tmp_path / "figures" / "old", "fig-a")
    new = _save(tmp_path / "figures" / "new", "fig-a")
    os.utime(old["json"], (1_000_000, 1_000_000))
    assert publishing.figure_files("fig-a", root=tmp_path / "figures")["json"] == new["json"]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_ipynb_keeps_the_papermill_parameters(source: Path, tmp_path: Path) -> None:
    nb = publishing.notebook_to_ipynb(source)
    path = tmp_path / f"{source.stem}.ipynb"
    nbformat.write(nb, path)
    nbformat.validate(nbformat.read(path, as_version=4))
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = set(papermill.inspect_notebook(str(path)))  # what `papermill --help-notebook` lists
    declared = set(re.findall(r"^([A-Za-z_]\w*)\s*:", tagged[0].source, re.M))
    assert names == declared and names
    assert nb.metadata.kernelspec.name == "python3"


def test_notebook_ipynb_rejects_a_notebook_without_parameters(tmp_path: Path) -> None:
    src = tmp_path / "x.py"
    src.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="has no cell tagged 'parameters'"):
        publishing.notebook_to_ipynb(src)
    with pytest.raises(ValueError, match="is not a file"):
        publishing.notebook_to_ipynb(tmp_path / "missing.py")


def test_rerun_commands() -> None:
    assert publishing.rerun_commands("notebooks/04_hybrid_ddpm.py") == {
        "qdm": "python -m qdm.nb run notebooks/04_hybrid_ddpm.py 04_hybrid_ddpm.out.ipynb",
        "papermill": "papermill 04_hybrid_ddpm.ipynb 04_hybrid_ddpm.out.ipynb",
    }
    for bad in ("/abs/x.py", "notebooks/x.ipynb", 3):
        with pytest.raises(ValueError, match="^source must be a relative path"):
            publishing.rerun_commands(bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ a tiny Sphinx site


def _build(src: Path, out: Path, warnings: Path) -> int:
    from sphinx.cmd.build import build_main

    return build_main(["-b", "html", "-q", "-W", "--keep-going", "-w", str(warnings), str(src), str(out)])


def _site(tmp_path: Path, names: list[str]) -> Path:
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "conf.py").write_text('extensions = ["qdm.publishing"]\nnumfig = True\nexclude_patterns = ["_build"]\n')
    _save(tmp_path / "shot", "fig-a")
    (src / "a.png").write_bytes((tmp_path / "shot" / "fig-a.png").read_bytes())
    figures = "\n".join(f".. figure:: /a.png\n   :name: {n}\n\n   Caption of {n} at :math:`t_0`. Second.\n" for n in names)
    (src / "index.rst").write_text(f"Title\n=====\n\n.. toctree::\n\n   page\n\n{figures}\n")
    (src / "page.rst").write_text("Page\n====\n\n.. figure:: /a.png\n   :name: other-image\n\n   Not a fig- name.\n")
    return src


def test_sphinx_site_gets_figure_links_citation_and_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "results"))
    saved = _save(tmp_path / "results" / "figures" / "index", "fig-a", producer=None)
    src = _site(tmp_path, ["fig-a"])
    out = tmp_path / "html"
    assert _build(src, out, tmp_path / "warnings.txt") == 0, (tmp_path / "warnings.txt").read_text()
    html = (out / "index.html").read_text(encoding="utf-8")
    figure = re.search(r'<figure[^>]*id="fig-a">(.*?)</figure>', html, re.S).group(1)
    for ext in ("png", "svg", "csv", "json"):
        assert f'href="_figures/index/fig-a.{ext}"' in figure
        assert (out / "_figures" / "index" / f"fig-a.{ext}").read_bytes() == saved[ext].read_bytes()
    assert "Cite this figure" in figure
    commit = json.loads(saved["json"].read_text())["git"]["commit"]
    number = re.search(r'<span class="caption-number">Fig\. (\d+) </span>', figure).group(1)
    # the caption's number, and its maths as $TeX$
    assert f"Figure {number}: Caption of fig-a at $t_0$. In: qdm contributors (2025)." in figure
    assert "index.html#fig-a" in figure and (commit[:12] in figure or "no git commit recorded" in figure)
    assert "Cite this figure" not in (out / "page.html").read_text(encoding="utf-8")
    assert html.count("const THEBE_JS_URL") <= 1


def test_sphinx_build_fails_on_a_figure_without_saved_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDM_RESULTS_DIR", str(tmp_path / "results"))
    src = _site(tmp_path, ["fig-missing"])
    warnings = tmp_path / "warnings.txt"
    assert _build(src, tmp_path / "html", warnings) != 0
    assert "figure 'fig-missing' has no saved files" in warnings.read_text()


def test_unique_scripts_drops_repeated_inline_scripts() -> None:
    from sphinx.builders.html._assets import _JavaScript

    scripts = [_JavaScript(None, body="const A = 1"), _JavaScript("", body="const A = 1"),
               _JavaScript("x.js"), _JavaScript("", body="const B = 2"), _JavaScript("x.js")]
    context = {"script_files": scripts}
    publishing._unique_scripts(None, "p", "page.html", context, None)
    assert context["script_files"] == [scripts[0], scripts[2], scripts[3]]
