# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (qdm)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproducibility
#
# Every result in this book comes from a run of a registered preset that anyone can repeat with one
# command, and the finished runs the chapters show are kept in a committed *results ledger*
# (`ledger/`, `qdm.ledger`): each entry holds the run's resolved config, the md5 of the data it read,
# its metrics, losses, timing and provenance, and its first 64 samples, but no weights. This page
# says, per chapter, which command makes its runs, how many of them the ledger holds and what they
# cost, lists the ledger entry by entry, and then describes how the book itself is executed and
# how each figure records where it came from.
#
# :::{admonition} About this notebook
# :class: note
# - **Source:** the ledger's own files (`timing.json`, `provenance.json`, `ledger.json`,
#   `config.json` of every entry) and the job list of `qdm.chapters.jobs`; the logic is in
#   `qdm.chapters.reproducibility`.
# - **Runs:** a few seconds: it reads files and resolves configs; nothing is trained or timed.
# - **Parameters:** the cell tagged `parameters` below, e.g.
#   `python -m qdm.nb run notebooks/95_reproducibility.py out.ipynb -p profiles cpu -p seeds 0`.
# - **Randomness:** none.
# :::

# %% tags=["parameters"]
ledger_dir: str = ""  # the ledger folder ("": $QDM_LEDGER_DIR, else the committed <repo>/ledger)
profiles: str = "book,cpu,smoke"  # profiles whose job lists are costed (paper, book, cpu, smoke)
seeds: str = "0,1,2"  # seeds of every job, as `qdm reproduce --seeds` takes them

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's widget check; no progress bars here
from qdm.chapters import reproducibility as chapter

profile_list = chapter.parse_profiles(profiles)
seed_list = chapter.parse_seeds(seeds)
root = chapter.ledger_dir(ledger_dir)
params = dict(ledger_dir=ledger_dir, profiles=profiles, seeds=seeds)

from myst_nb import glue

from qdm.chapters.performance import shown_path
from qdm import provenance
from qdm.nb import glue_figure, glue_value

for key, value in params.items():
    glue_value(key, value)
glue_value("ledger-path", shown_path(root))
glue_value("book-commit", chapter.checkout_commit())

# %% [markdown]
# ## What each chapter's runs cost
#
# `qdm reproduce CHAPTER --profile P --seeds S --admit` runs every job of a chapter (a preset,
# its overrides and a seed, `qdm.chapters.jobs`), reuses those already finished and admits the new
# ones into the ledger. {numref}`tab-repro-chapters` lists, for the profiles
# {glue:text}`profiles` and the seeds {glue:text}`seeds`, how many runs each chapter needs, how many
# the ledger holds now, and what those took as measured: training, sampling and evaluation seconds
# from their `timing.json`, summed, on the machine their `provenance.json` names. For runs not in
# the ledger the estimate is the mean measured cost of the ledger's entries of the same preset and
# profile, summed over the runs it covers; a run whose preset has no measured entry at that profile
# is counted as *not measured*, never guessed. A profile that a chapter's presets do not define is
# said so in the last column.
#
# Over these profiles the chapters need {glue:text}`runs-total` runs; the ledger holds
# {glue:text}`runs-in-ledger` of them, measured at {glue:text}`measured-total` in all;
# {glue:text}`runs-estimated` more have an estimate ({glue:text}`estimated-total`) and
# {glue:text}`runs-not-measured` have none.

# %% tags=["hide-input"]
costs = chapter.chapter_costs(root, profile_list, seed_list)
for key, value in chapter.cost_summary(costs).items():
    glue_value(key, value)
glue("tab-repro-chapters", chapter.chapter_cost_view(costs).style.hide(axis="index"), display=False)

# %% [markdown]
# ```{glue:figure} tab-repro-chapters
# :name: tab-repro-chapters
#
# Per chapter and profile: the command, the runs it makes, those in the ledger and their measured
# cost, the estimate for the others (from entries of the same preset and profile), the runs with no
# measurement, the machine(s) behind the numbers, and a note where the profile does not resolve.
# Read from {glue:text}`ledger-path` when the book was built (commit {glue:text}`book-commit`).
# ```
#
# ## What the ledger holds
#
# The ledger in {glue:text}`ledger-path` holds {glue:text}`n-entries` entries and
# {glue:text}`ledger-bytes:,` bytes in all (entries and the measurement files under
# `ledger/measurements/`). {numref}`tab-repro-ledger` lists every entry: the experiment, the
# preset and profile it was made as, its overrides and seed, its config hash (its folder name),
# the date the run finished and the commit it ran at (`+dirty`: with uncommitted changes), the
# machine, and its training, sampling and evaluation seconds.

# %% tags=["hide-input"]
table = chapter.ledger_table(root)
glue_value("n-entries", int(len(table)))
glue_value("ledger-bytes", int(chapter.ledger_bytes(root)))
glue("tab-repro-ledger", chapter.ledger_view(table).style.hide(axis="index"), display=False)
figure_record = provenance.record(params, None, producer="notebooks/95_reproducibility.py")
glue_figure("fig-repro-costs", chapter.plot_entry_costs(table), figure_record, table,
            provenance.results_dir() / "figures" / "95_reproducibility")

# %% [markdown]
# ```{glue:figure} tab-repro-ledger
# :name: tab-repro-ledger
#
# The ledger entry by entry (its `ledger.json`, `config.json`, `timing.json` and `provenance.json`),
# read from {glue:text}`ledger-path` when the book was built (commit {glue:text}`book-commit`).
# ```
#
# ```{glue:figure} fig-repro-costs
# :name: fig-repro-costs
#
# What each ledger entry cost, in minutes of training, sampling and evaluation as its `timing.json`
# records them (the machine and the load are in {numref}`tab-repro-ledger`; runs made while other
# work shared the machine took longer). {glue:text}`fig-repro-costs-note`
# ```
#
# ## Stale entries
#
# An entry is *stale* when the preset and profile it was made as now resolve to another config (the
# code or the preset changed since): the runner no longer serves it, and `qdm ledger stale` lists
# it. {glue:text}`stale-line`

# %% tags=["hide-input"]
stale = chapter.stale_table(root)
glue_value("stale-line", chapter.stale_line(stale))
stale

# %% [markdown]
# ## What ran, when, and how long it took
#
# The table is produced at build time by MyST-NB from the execution cache: one row per notebook,
# with the time it was last executed, how (from the cache or freshly) and its run time.
#
# ```{nb-exec-table}
# ```
#
# ## When a notebook is re-executed
#
# The book is built with `execute_notebooks: cache` (jupyter-cache, in `.jupyter_cache/`). A
# notebook is re-executed only when the hash of its notebook object changes; jupyter-cache hashes
# the code cells, their metadata and the kernelspec. On its own that misses the code the notebook
# *imports*: edit a function in `src/qdm` and the cache would keep serving the old figures
# (MyST-NB issue #299).
#
# `qdm` closes that gap in the notebook reader. `_config.yml` reads `notebooks/*.py` through
# `qdm.nb.read_notebook`, which converts the jupytext script and writes into the first code cell's
# metadata the fingerprint of everything else a result depends on
# (`qdm.provenance.inputs_fingerprint`):
#
# | key | what is hashed |
# |---|---|
# | `source_hash` | sha256 of every `*.py` file of the installed `qdm` package (path and bytes) |
# | `lock_hash` | sha256 of `requirements.lock`, the exact environment |
# | `data_hash` | sha256 over the md5 of every registered data file found in the data directory |
#
# Since the metadata of code cells is part of the cached hash, changing any of them makes the next
# `make book` execute the notebook again, while unchanged notebooks are served from the cache.
# `make clean-book` deletes `_build/` and `.jupyter_cache/` for a build from scratch. The ledger's
# files are not part of the fingerprint: after admitting runs, `make clean-book` (or an edit of the
# notebook) makes the pages that read the ledger show them.
#
# ## Provenance records
#
# Each figure is written by `qdm.nb.glue_figure`, which calls `qdm.provenance.save_figure`. Under
# `results/figures/` (or `$QDM_RESULTS_DIR/figures/`) every figure `NAME` has
#
# - `NAME.png` and `NAME.svg` (no timestamps embedded, so identical inputs give identical files),
# - `NAME.csv`, the plotted data in long form,
# - `NAME.json`, the provenance record: the notebook parameters and seed; the qdm version, the
#   source hash and the lock hash; the git commit and whether the checkout was dirty (modified or
#   untracked files); Python, platform and the versions of torch, PennyLane, numpy, matplotlib,
#   seaborn, pandas and torchmetrics; the UTC time; the path, size and md5 of each data file read;
#   and the md5 of each of the files above.
#
# All files of a figure are first written to hidden temporary files and renamed into place only
# when every one of them succeeded, so a failure never leaves a half-written set. The line under
# each figure in the book is `qdm.provenance.caption_note(record)`: parameters, seed, data md5
# prefix, qdm version with source-hash prefix, and commit.
#
# In the built book these files are copied into the site, under `_figures/<page>/`, and linked
# under the figure together with a *cite this figure* entry (`qdm.publishing`, a Sphinx extension
# listed in `_config.yml`); a figure named `fig-…` whose files are missing is a build warning, and so
# an error under `-W`. Each notebook is also offered as `_notebooks/<name>.ipynb`, converted from its
# jupytext script at build time with the papermill `parameters` cell kept.
#
# To rebuild a figure with other parameters, run its notebook with papermill (see the
# {doc}`introduction </book/intro>`); the parameters of that run are recorded both in the executed
# notebook's `metadata.papermill` and in each figure's JSON record.
#
# ## The built book in a browser
#
# `tests/test_browser.py` opens every page of the built book in headless Chromium (Debian's
# `chromium` and `chromium-driver`, driven by Selenium with no download) and checks that it loads
# with no console error and no failed request, that MathJax typeset every equation, that every image
# loaded, that every internal link and anchor resolves and that nothing overflows the text column;
# the search page must find "fidelity". `.ci/run` runs the tests, builds the book with
# `-W --keep-going` and then runs that test on it (`make browser-test` does the last step by hand).
