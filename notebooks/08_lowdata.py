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
# # Does the quantum bottleneck help with fewer than 100 images?
#
# The central claim of Chen et al. {cite:p}`chen2025quantum` is that their hybrid DDPM, a small U-Net
# whose bottleneck is gated by a quantum circuit, beats "the identical classical architecture" when
# fewer than 100 training images are available. Their public code, however, trains on every image of
# a digit (about 6,000) and scores 5 samples, and the previous chapter showed that the published
# circuit's weights do not change its output. This chapter tests the claim directly: the four variants
# of the hybrid audit, trained on nested training sets of growing size, several seeds each, with the
# same optimisation budget for every size, so that only the data change.
#
# > **Hypothesis** (written before the study was run, and as `qdm.audits.lowdata.HYPOTHESIS` in the code):
# > for N < 100 training images the quantum variant's KID (and FID) is lower than the identical
# > classical twin's, paired by seed.
#
# It is tested on two pairs: the published model `chen2025` against its identical classical
# architecture `chen2025-classical` (the authors' baseline), and the trainable circuit
# `chen2025-trainable` against `chen2025-matched`, a classical gate with exactly its parameter count.
#
# :::{admonition} About this notebook
# :class: note
# - **Source:** Chen et al. {cite:p}`chen2025quantum` and their public code; KID
#   {cite:p}`binkowski2018kid` and FID {cite:p}`heusel2017fid` with its small-sample bias
#   {cite:p}`chong2020unbiased`; precision and recall {cite:p}`kynkaanniemi2019precision`; the copy
#   rate {cite:p}`meehan2020datacopying`; the paired t-interval and test {cite:p}`student1908probable`,
#   Holm's correction {cite:p}`holm1979simple` and the effect size $d_z$ {cite:p}`lakens2013effect`.
#   The design, the hypothesis and the statistics are in `qdm.audits.lowdata`, the page's logic in
#   `qdm.chapters.lowdata`.
# - **Runs:** seconds: the page reads the study's runs from the ledger (or the local results store)
#   and trains nothing unless `train_missing` is true. A run missing from both is named, with the
#   command that makes it.
# - **Parameters:** the cell tagged `parameters` below; its defaults are the whole study at the
#   `book` profile. A smaller grid, e.g. `python -m qdm.nb run notebooks/08_lowdata.py out.ipynb
#   -p profile smoke -p sizes 8,64 -p digits 0 -p seeds 0,1 -p train_missing True`, trains what
#   it lacks.
# - **Randomness:** seed $s$ seeds the training (initialisation, batches, noise, sampling) and draws
#   the training images: the first N of one seeded permutation of the digit's images, so for one seed
#   the N images are among the M > N images.
# :::

# %% tags=["parameters"]
profile: str = "book"  # preset profile of every run (paper, book, cpu, smoke)
sizes: str = "8,16,32,64,128,512,all"  # training-set sizes N, comma-separated counts or "all"
digits: str = "0,6"  # MNIST digits, comma-separated
variants: str = "chen2025,chen2025-trainable,chen2025-classical,chen2025-matched"  # hybrid presets compared
seeds: str = "0,1,2,3,4"  # seed pool (each N up to 64 takes the first 5 of them, a larger N the first 3)
ablation_arms: str = "quantum-noise,tailored"  # noise strategies of the ablation (at 64 and all images of digit 0)
overrides: str = ""  # overrides for every run, as qdm reproduce --set takes them, separated by semicolons
train_missing: bool = False  # train the runs that neither the results store nor the ledger holds
workers: int = 1  # trainings in parallel when train_missing
results_dir: str = ""  # folder for runs and figures ("": $QDM_RESULTS_DIR, else <repo>/results)

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's widget check; no progress bars here
from qdm.chapters import lowdata as chapter

knobs = chapter.from_namespace(globals())  # every parameter validated before any work
design = knobs.design

import torch
from IPython.display import Markdown
from myst_nb import glue

from qdm import plotting, provenance
from qdm.audits import lowdata as study
from qdm.chapters.common import results_root
from qdm.data import load_dataset
from qdm.nb import glue_figure, glue_value

torch.set_num_threads(1)
plotting.set_style()
root = results_root(knobs.results_dir)
figure_dir = root / "figures" / "08_lowdata"
record = provenance.record(knobs.as_dict(), None, [load_dataset("mnist", "train").source.file],
                           producer="notebooks/08_lowdata.py")
for key, value in knobs.as_dict().items():
    glue_value(key, value)

runs = chapter.study_runs(knobs)  # from the local store or the ledger; trained only with train_missing
frame = chapter.runs_frame(runs)
summary = study.summary_table(frame)
n_all = chapter.n_all_images(design.digits)
for key, value in chapter.design_numbers(design, runs, n_all).items():
    glue_value(key, value)

# %% [markdown]
# ## The design
#
# Every cell of the grid is one variant trained on N images of one digit, for N in
# {glue:text}`grid-sizes` (all: every training image of the digit, {glue:text}`n-all-0` for digit
# 0), the digits {glue:text}`grid-digits` and the variants {glue:text}`grid-variants`. Cells with
# N ≤ 64 run {glue:text}`small-seeds` seeds, larger N {glue:text}`large-seeds`: this grid has
# {glue:text}`grid-cells` cells and {glue:text}`grid-runs` runs. Against the study the issue asks for
# it lacks: {glue:text}`grid-problems`.
#
# - **Only the data change with N.** Every run keeps the {glue:text}`profile` profile's budget:
#   {glue:text}`budget-steps` optimisation steps of {glue:text}`budget-batch` images (one budget for
#   every run: {glue:text}`budget-one-budget`). Below N = {glue:text}`budget-batch` a batch holds all
#   N images, since the trainer draws without replacement.
# - **Nested training sets.** The training images of seed $s$ are the first N of a permutation of the
#   digit's images seeded by $s$ (`data.subset_draw=nested`, `data.subset_seed` = the training seed),
#   so a run at N = 16 sees the 8 images of its seed's N = 8 run and 8 more.
# - **Seed pairs.** The quantum variant and its twin with the same seed share their training images
#   and training seed; the test is on their differences.
# - **Evaluation.** Each run draws {glue:text}`budget-samples` samples ({glue:text}`budget-sampler`)
#   and scores them against the held-out test images of the digit: KID (with its jackknife standard
#   error) and FID on Inception features, the classifier FID and the fraction of samples classified
#   as the digit by qdm's MNIST classifier, precision and recall, and the copy rate against the run's
#   own training images. The study asks for at least {glue:text}`min-samples` samples per run (met at
#   this profile: {glue:text}`budget-meets-samples`).
#
# The noise strategies of the paper, *intrinsic quantum-generated noise* and a *tailored noise
# schedule*, have no formula in the paper and are not in the authors' code; qdm's versions are
# **reconstructions**: noise from single-qubit measurement statistics (`qdm.circuits.quantum_noise`)
# and the sigmoid schedule of T. Chen {cite:p}`chen2023noise` (`qdm.schedules.tailored_schedule`).
# They are compared with Gaussian noise and the cosine schedule {cite:p}`nichol2021improved` for the
# quantum (`chen2025`) and the classical (`chen2025-classical`) model at N = 64 and N = all.
#
# ## What the ledger holds
#
# {glue:text}`n-found` of the {glue:text}`n-expected` runs of this grid were found
# ({glue:text}`n-from-ledger` from the ledger, {glue:text}`n-from-results` from the local results
# store, {glue:text}`n-from-trained` trained now). The rest are named below, with the command that makes
# them; {numref}`tab-lowdata-missing` lists every cell that lacks a run.

# %% tags=["hide-input"]
cells = chapter.missing_cells(runs, design)
for key, value in chapter.ledger_numbers(runs, cells).items():
    glue_value(key, value)
glue("tab-lowdata-missing", cells[cells["found"] < cells["seeds"]].style.hide(axis="index"), display=False)
Markdown(chapter.missing_text(runs, cells))

# %% [markdown]
# ```{glue:figure} tab-lowdata-missing
# :name: tab-lowdata-missing
#
# The {glue:text}`n-cells-incomplete` cells of the grid that lack at least one run: variant, digit,
# N, noise strategy, the seeds the cell asks for, those found and the missing seeds.
# ```
#
# ## Every metric against N
#
# {numref}`fig-lowdata-metrics` shows, per digit, each metric against the number of training images
# on a log axis: one line per variant (the mean over seeds) with its 95 % t-band, and a dotted line at
# N = 100. The stars are the FIDs published with the authors' code: one run each, 5 generated images
# against training images of any digit, placed at N = all since the code trains on every image of a
# digit; an FID of 5 images is dominated by its estimator bias {cite:p}`chong2020unbiased`, so they
# show where the paper stands, not a value to compare with FIDs of {glue:text}`budget-samples`
# samples. No KID or other metric was published.

# %% tags=["hide-input"]
published = study.published_points()
glue_figure("fig-lowdata-metrics", chapter.plot_metrics(summary, design, n_all, published), record,
            chapter.figure_frame(summary, published), figure_dir)
figure_dir.mkdir(parents=True, exist_ok=True)
frame.to_csv(figure_dir / "lowdata-runs.csv", index=False)
glue_value("runs-csv", str(figure_dir / "lowdata-runs.csv"))

# %% [markdown]
# ```{glue:figure} fig-lowdata-metrics
# :name: fig-lowdata-metrics
#
# KID, FID, classifier FID, fraction of samples classified as the digit, precision and recall against
# the number of training images N, per digit (columns): mean over seeds and 95 % t-band per variant;
# stars: published FIDs. A panel without runs says so. *Provenance:* {glue:text}`fig-lowdata-metrics-note`
# ```
#
# {numref}`tab-lowdata-summary` gives the same numbers cell by cell, with the KID's own error: the
# mean over the cell's runs of the jackknife standard error of each run's KID {cite:p}`binkowski2018kid`,
# beside the 95 % interval over seeds.

# %% tags=["hide-input"]
glue("tab-lowdata-summary", chapter.summary_view(summary).style.hide(axis="index"), display=False)

# %% [markdown]
# ```{glue:figure} tab-lowdata-summary
# :name: tab-lowdata-summary
#
# Per cell (variant, digit, N, noise strategy, number of seeds found): each metric's mean over seeds and
# its 95 % t-interval ("n/a" with one seed); KID also with the mean jackknife SE of its runs.
# ```
#
# ## The tests
#
# For each comparison, metric and digit, {numref}`tab-lowdata-tests` gives, at every N, the mean over
# seed pairs of quantum − twin (negative: the quantum variant is better for KID and FID), its 95 %
# t-interval and the two-sided paired t-test {cite:p}`student1908probable`, the p-value corrected by
# Holm's procedure {cite:p}`holm1979simple` over the N < 100 of that comparison, metric and digit (the
# hypothesis' family), and the effect size $d_z$, the mean difference over the standard deviation of
# the differences {cite:p}`lakens2013effect`, whatever its sign. A cell counts for the hypothesis when
# its Holm-corrected p is at most 0.05 and the quantum variant is better, against it when the
# quantum variant is worse; N ≥ 100 is shown but not tested. {glue:text}`n-tested` of the
# {glue:text}`n-hypothesis-cells` cells below N = 100 could be tested (two seed pairs or more); of
# these {glue:text}`n-support` support the hypothesis and {glue:text}`n-reverse` reverse it.

# %% tags=["hide-input"]
tests = study.hypothesis_table(frame, design)
for key, value in chapter.test_numbers(tests).items():
    glue_value(key, value)
tests.to_csv(figure_dir / "lowdata-tests.csv", index=False)
glue("tab-lowdata-tests", chapter.test_view(tests).style.hide(axis="index"), display=False)

# %% [markdown]
# ```{glue:figure} tab-lowdata-tests
# :name: tab-lowdata-tests
#
# Seed-paired differences quantum − twin per comparison, metric, digit and N: the number of seed
# pairs, the mean difference, its 95 % t-interval, the paired t-test's p, the Holm-corrected p (N < 100
# only) and $d_z$; "n/a" where a cell has fewer than two pairs.
# ```
#
# ## Copying the training images
#
# With very few training images a model can simply reproduce them. {numref}`fig-lowdata-copy` shows
# the copy rate: the fraction of samples closer to one of the run's own training images than the
# held-out images of the digit are to them {cite:p}`meehan2020datacopying`.

# %% tags=["hide-input"]
copy_data = summary[summary.metric == "memorisation_copy_rate"]
glue_figure("fig-lowdata-copy", chapter.plot_copy_rate(summary, design, n_all), record, copy_data, figure_dir)

# %% [markdown]
# ```{glue:figure} fig-lowdata-copy
# :name: fig-lowdata-copy
#
# Copy rate against the number of training images N, per digit: mean over seeds and 95 % t-band per
# variant. *Provenance:* {glue:text}`fig-lowdata-copy-note`
# ```
#
# ## The noise strategies
#
# {numref}`tab-lowdata-ablation` compares qdm's reconstructions of the two noise strategies with the
# published code's Gaussian noise and cosine schedule, for the quantum and the classical model at
# N = 64 and N = all on digit 0: the mean over seeds of each strategy and of the baseline, and their
# seed-paired difference with its 95 % t-interval, p-value, Holm-corrected p-value (over every row of
# the same metric) and $d_z$. The strategies are reconstructions, so a difference here says how these
# versions behave, not how the authors' did.

# %% tags=["hide-input"]
ablation = study.ablation_table(frame, design)
ablation.to_csv(figure_dir / "lowdata-ablation.csv", index=False)
glue_value("n-ablation-rows", len(ablation))
glue_value("n-ablation-tested", int(ablation["p"].notna().sum()))
glue("tab-lowdata-ablation", chapter.ablation_view(ablation).style.hide(axis="index"), display=False)

# %% [markdown]
# ```{glue:figure} tab-lowdata-ablation
# :name: tab-lowdata-ablation
#
# The noise strategies against the baseline (Gaussian noise, cosine schedule): per metric, digit, N,
# variant and strategy, the means, the seed-paired difference strategy − baseline with its 95 %
# t-interval, p, Holm p and $d_z$ ({glue:text}`n-ablation-tested` of {glue:text}`n-ablation-rows`
# rows have two seed pairs or more).
# ```
#
# ## Verdict
#
# {glue:text}`verdict`
#
# The runs behind this page are listed, one per row with their metrics and config hashes, in
# {glue:text}`runs-csv`.

# %% tags=["hide-input"]
glue_value("verdict", chapter.verdict(tests, runs))
