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
# # The hybrid DDPM on PathMNIST
#
# Chen et al. {cite:p}`chen2025quantum` train their hybrid DDPM, a small U-Net whose bottleneck is
# gated by a 16-qubit circuit, on one class of PathMNIST {cite:p}`yang2023medmnist` as well as on MNIST
# digits. The table of their repository gives, for PathMNIST class 1, a *better* FID for the quantum
# model than for the classical one (84.40 against 95.72) and a *worse* SSIM (0.0931 against 0.4107).
# Both numbers come from one strip of 5 samples per model, scored against the first training images of
# the class with torchvision's Inception and scikit-image's SSIM. This page trains the four variants of
# the hybrid audit on the same class over several seeds, scores each on a thousand samples against
# held-out images, and tests the claim seed by seed.
#
# :::{admonition} About this notebook
# :class: note
# - **Source:** Chen et al. {cite:p}`chen2025quantum` (paper and public code, `../shared/docs/papers.md`
#   section C); PathMNIST from MedMNIST v2 {cite:p}`yang2023medmnist`; DDPM {cite:p}`ho2020ddpm`; FID
#   {cite:p}`heusel2017fid`, KID {cite:p}`binkowski2018kid`, SSIM {cite:p}`wang2004ssim`, precision and
#   recall {cite:p}`kynkaanniemi2019precision`.
# - **Runs:** the page trains nothing: its runs come from the committed ledger (or a local results
#   folder) at the profile `profile`, seeds `seeds`; a run in neither is named in a warning with the
#   command that makes it. The book shows the `book` profile (the `cpu` profile trained for
#   6,000 steps; chapter 04 and the appendix on reproducibility say how that budget was chosen).
# - **Parameters:** the cell tagged `parameters` below, e.g.
#   `python -m qdm.nb run notebooks/05_pathmnist.py out.ipynb -p profile smoke -p seeds 0,1 -p train_missing true`
#   trains the eight smoke runs itself (what the test suite does).
# - **Randomness:** each run is seeded by its training seed (initialisation, subset, batches, noise,
#   sampling).
# :::

# %% tags=["parameters"]
profile: str = "book"  # profile of the runs shown: smoke, cpu, book (the book's) or paper
seeds: str = "0,1,2"  # training seeds of every variant, comma-separated
train_missing: bool = False  # train runs found neither in the ledger nor in the results folder (the book: False)
workers: int = 1  # parallel trainings when train_missing is true
results_dir: str = ""  # local results folder and figures ("": $QDM_RESULTS_DIR, else <repo>/results)

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's widget check; no progress bars here
from qdm.chapters import pathmnist as chapter

knobs = chapter.from_namespace(globals())  # validated before any work; one-line error naming the parameter

import torch
from IPython.display import Markdown
from myst_nb import glue

from qdm import plotting, protocols, provenance
from qdm.chapters import common
from qdm.chapters.runs import chapter_runs, missing_admonition, source_text
from qdm.data import load_dataset
from qdm.ledger import SAMPLE_COUNT
from qdm.nb import glue_figure, glue_value

torch.set_num_threads(1)
plotting.set_style()
root = common.results_root(knobs.results_dir)
figure_dir = root / "figures" / "05_pathmnist"
figure_dir.mkdir(parents=True, exist_ok=True)
train_split = load_dataset("pathmnist", "train")
record = provenance.record(knobs.as_dict(), 0, [train_split.source.file], producer="notebooks/05_pathmnist.py")
for key, value in knobs.as_dict().items():
    glue_value(key, value)

# %% [markdown]
# ## The runs

# %%
runs = chapter_runs(
    chapter.CHAPTER, knobs.profile, knobs.seed_list, train_missing=knobs.train_missing, workers=knobs.workers,
    results_root=root,
)
glue("missing-note", Markdown(missing_admonition(runs)), display=False)
glue_value("run-sources", source_text(runs))
glue_value("reproduce-command", runs.command())
frame = chapter.run_frame(runs)
frame.to_csv(figure_dir / "runs.csv", index=False)
glue_value("runs-csv", str(figure_dir / "runs.csv"))
cfg = runs.runs[0].config
labels = train_split.labels
klass = int(cfg.data.classes[0])
glue_value("class", klass)
glue_value("class-train", int((labels == klass).sum()))
glue_value("train-total", int(len(labels)))
glue_value("images", cfg.data.images_per_class if cfg.data.images_per_class is not None else "all")
glue_value("steps", cfg.train.steps)
glue_value("batch-size", cfg.train.batch_size)
glue_value("n-samples", cfg.eval.n_samples)
glue_value("sampler", f"{cfg.eval.sampler.upper()} with {cfg.eval.sample_steps} steps")
glue_value("ssim-convention", cfg.eval.ssim_convention)
glue_value("ssim-pairing", cfg.eval.ssim_pairing)
glue_value("n-qubits", cfg.model.n_qubits)
n_ref = frame["fid_n_reference"].dropna()
glue_value("n-reference", int(n_ref.iloc[0]) if len(n_ref) else "no")
acc = frame["classifier_test_accuracy"].dropna()
glue_value("classifier-accuracy", float(acc.iloc[0]) if len(acc) else float("nan"))

# %% [markdown]
# ```{glue:md} missing-note
# :format: myst
# ```
#
# PathMNIST class {glue:text}`class` is "background" tissue; the data here are the real subset of
# `../shared/data/pathmnist` ({glue:text}`train-total` training images, {glue:text}`class-train` of
# them of class {glue:text}`class`; no validation split). Each variant is trained at the
# {glue:text}`profile` profile: {glue:text}`steps` Adam steps of {glue:text}`batch-size` images on
# {glue:text}`images` training images of the class, the published architecture, circuit
# ({glue:text}`n-qubits` qubits), cosine schedule and $T = 1000$, and draws {glue:text}`n-samples` samples
# ({glue:text}`sampler`). Every number below is scored against the {glue:text}`n-reference` held-out test
# images of the class, all there are in the subset: FID and KID (with its jackknife standard error) on
# TF-Inception features, SSIM in the {glue:text}`ssim-convention` convention (11×11 Gaussian window),
# each sample paired with its {glue:text}`ssim-pairing` real image, the copy rate against the run's own
# training images, precision and recall, and qdm's PathMNIST classifier (test accuracy
# {glue:text}`classifier-accuracy:.1%` over the nine classes on the subset, so its "classified as class
# {glue:text}`class`" is a coarse score). Shown here: {glue:text}`run-sources`. Every run's numbers are in
# {glue:text}`runs-csv`.

# %%
summary = chapter.summary_table(frame)
summary.to_csv(figure_dir / "summary.csv", index=False)
shown = summary.drop(columns="key")
glue("tab-path-summary", shown.style.format(precision=4, na_rep="–").hide(axis="index"), display=False)
glue_figure("fig-path-points", chapter.plot_metric_points(frame), record, frame, figure_dir)

# %% [markdown]
# ```{glue:figure} tab-path-summary
# :name: tab-path-summary
#
# Every variant on PathMNIST class {glue:text}`class`: mean over seeds and the 95 % Student-t interval
# over seeds (empty with one seed), and the number of generated images behind each metric (the
# reference: {glue:text}`n-reference` held-out images).
# ```
#
# ```{glue:figure} fig-path-points
# :name: fig-path-points
#
# FID, KID, SSIM and the fraction classified as class {glue:text}`class`, one point per seed, bars at
# the seed mean. *Provenance:* {glue:text}`fig-path-points-note`
# ```
#
# ## The samples

# %%
real = protocols.to_unit(protocols.reference_images(cfg.data, "qdm", 12))
firsts = chapter.first_records(runs)
grid_frame = frame[frame["run"].isin([r.config_hash for r in firsts.values() if r is not None])]
glue_figure("fig-path-samples", chapter.plot_sample_grids(firsts, real), record,
            grid_frame[["variant", "seed", "run", "source"]], figure_dir)
glue_value("kept-samples", SAMPLE_COUNT)

# %% [markdown]
# ```{glue:figure} fig-path-samples
# :name: fig-path-samples
#
# Twelve held-out real images of class {glue:text}`class` (top) and the first twelve samples of each
# variant's lowest-seed run: the published quantum gate, the trainable circuit, the classical twin
# without a gate (the paper's baseline) and the parameter-matched classical gate. The ledger keeps a
# run's first {glue:text}`kept-samples` samples. *Provenance:* {glue:text}`fig-path-samples-note`
# ```
#
# ## The published numbers beside these

# %%
published = chapter.published_table(frame)
glue("tab-path-published", published.style.format(precision=4, na_rep="–").hide(axis="index"), display=False)

# %% [markdown]
# ```{glue:figure} tab-path-published
# :name: tab-path-published
#
# The repository's PathMNIST FID and SSIM (5 samples per model against the first training images of the
# class, torchvision Inception, scikit-image SSIM with index pairing) and qdm's seed means (the protocol
# above). The two columns of each metric are measured differently and do not compare with each other;
# only the direction of the quantum–classical difference is tested below.
# ```
#
# ## The claim, tested
#
# The claim: {glue:text}`claim`. It is tested on the two seed-paired comparisons of the hybrid audit:
# the published gate against the identical architecture without it, and the trainable circuit against
# the classical gate with exactly its number of parameters. Per comparison, the two metrics of the
# claim get a paired t-test over seeds, Holm-corrected over the two.

# %%
tests = chapter.claim_table(frame)
tests.to_csv(figure_dir / "claim.csv", index=False)
glue("tab-path-claim", tests.drop(columns="label").style.format(precision=4, na_rep="–").hide(axis="index"),
     display=False)
glue_value("claim", chapter.CLAIM)
glue_value("verdict", chapter.verdict_text(tests))

# %% [markdown]
# ```{glue:figure} tab-path-claim
# :name: tab-path-claim
#
# Seed-paired differences quantum − classical twin (same training seed) of FID and SSIM, their 95 %
# t-intervals, paired t-test p-values, Holm-corrected p-values (over the two metrics of a comparison),
# the effect size $d_z$, and whether the difference goes the claimed way.
# ```
#
# **Verdict.** {glue:text}`verdict`
#
# A low SSIM is what the paper reports for its quantum model, but an SSIM against the nearest real
# image also rewards copying: read it beside the copy rate of {numref}`tab-path-summary`.
