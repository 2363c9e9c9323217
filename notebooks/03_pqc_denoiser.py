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
# # A quantum circuit as the denoiser
#
# Cacioppo et al. {cite:p}`cacioppo2023qdm` replace the neural network of a diffusion model by a
# parameterized quantum circuit (PQC). The image is amplitude-encoded into the register, the
# forward process adds classical Gaussian noise to the amplitude vector, and the circuit is trained
# as a *direct denoising operator*, $P(\theta, t)\,|x_t\rangle \approx |x_{t-1}\rangle$: one circuit
# application per reverse step, with no decoding and re-encoding in between ({cite:t}`jo2025qamp` §1.2).
# This chapter builds the full-quantum version of the authors' 2025 follow-up code on 8×8 MNIST
# digits, trains it, and counts its parameters next to the 1110 the paper reports for its
# conditioned latent model.
#
# :::{admonition} About this notebook
# :class: note
# - **Source:** Cacioppo et al. {cite:p}`cacioppo2023qdm` and the authors' code (the 2023 conditioned-latent
#   code and the 2025 follow-up, listed on the Works reproduced page); Kölle et al.
#   {cite:p}`koelle2024qddm`; DDPM {cite:p}`ho2020ddpm`.
# - **Runs:** about a minute on one CPU core at the default parameters (most of it
#   the training of a 6-qubit circuit with per-step parameters). The papers' models at the
#   `book` profile (the last part) come from the committed ledger and are not trained here;
#   `-p train_missing true` trains whatever the ledger lacks (`qdm reproduce pqc --profile book`
#   makes the same runs).
# - **Parameters:** the cell tagged `parameters` below, e.g.
#   `python -m qdm.nb run notebooks/03_pqc_denoiser.py out.ipynb -p steps 2000 -p image_size 16`.
#   The training is the registered experiment `pqc-mnist` with these values (`qdm run pqc-mnist
#   steps=2000` gives the same run folder); the papers' settings are the presets listed at the end.
# - **Randomness:** `seed` seeds the circuit initialisation, the training, the sampling and every
#   noise draw below; the MNIST subset is drawn with the data layer's fixed subset seed.
# :::

# %% tags=["parameters"]
digits: str = "0,1"  # MNIST classes to learn, comma-separated (A2: digits 0 and 1)
images_per_class: int = 64  # training images per digit
image_size: int = 8  # side of the downscaled image: 8 or 16 (6 or 8 qubits; A2 uses 16)
noise: str = "complex"  # forward-process noise: "complex" (the papers' choice) or "real"
T: int = 10  # diffusion steps (A2: 10, constant beta 0.01)
layers_per_block: int = 3  # Rot + CNOT-ladder layers in each of the three circuit blocks
ancilla: str = "postselect"  # middle-block ancilla: "postselect" (A2), "measure" (A1) or "none"
steps: int = 300  # Adam steps
batch_size: int = 8  # images per step (each trained at all T steps)
lr: float = 0.05  # Adam learning rate
seed: int = 0  # seed of initialisation, training, sampling and noise draws
n_samples: int = 32  # images generated for the grid and the SSIM
reference_images: int = 200  # real test images the SSIM compares with
n_draws: int = 200  # noise draws per image for the forward-process fidelity curves
results_dir: str = ""  # folder for runs and figures ("": $QDM_RESULTS_DIR, else <repo>/results)
profile: str = "book"  # profile of the papers' runs shown from the ledger: smoke, cpu, book or paper
book_seeds: str = "0,1,2"  # training seeds of each of those runs, comma-separated
train_missing: bool = False  # train those runs when neither the ledger nor the results folder has them (book: False)
workers: int = 1  # parallel trainings when train_missing is true

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's widget check; no progress bars here
from qdm.chapters import pqc as chapter

params = chapter.from_namespace(globals())  # the config values and the chapter's own knobs, validated
cfg = params.config  # pqc-mnist with this chapter's values

import dataclasses

import pandas as pd
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from myst_nb import glue

from qdm import plotting, provenance, runner
from qdm.chapters import common
from qdm.config import get_experiment
from qdm.data import load_dataset
from qdm.families.pqc import pqc_eval_reference, training_images
from qdm.models import pqc_denoiser as pqc
from qdm.nb import glue_figure, glue_value
from qdm.runner import run_experiment

torch.set_num_threads(1)
plotting.set_style()
gen = torch.Generator().manual_seed(cfg.train.seed)
root = common.results_root(params.knobs.results_dir)
figure_dir = root / "figures" / "03_pqc_denoiser"
images, labels = training_images(cfg.data)
record = provenance.record(
    params.as_dict(), cfg.train.seed, [load_dataset("mnist", "train").source.file], producer="notebooks/03_pqc_denoiser.py"
)
for key, value in params.as_dict().items():
    glue_value(key, value)
glue_value("n-qubits", cfg.model.n_qubits)
glue_value("d", cfg.model.state_dim)

# %% [markdown]
# ## Amplitude encoding
#
# An image with $d = 2^n$ pixels becomes the state of $n$ qubits whose amplitudes are the pixel
# values, normalised (the authors' 2025 follow-up code):
#
# $$
# |x\rangle = \frac{1}{\lVert x\rVert_2}\sum_{j=0}^{d-1} x_j\,|j\rangle .
# $$ (eq-amplitude)
#
# MNIST digits have $28\times28$ pixels; they are first shrunk by bilinear interpolation to
# {glue:text}`image_size`$\times${glue:text}`image_size`, so $d =$ {glue:text}`d` amplitudes live on
# $n =$ {glue:text}`n-qubits` qubits. An image is read back from a state as
# $|\psi_j| / \max_k|\psi_k|$: the normalisation loses only the overall brightness, and the phases
# of the amplitudes are discarded.

# %%
n_show = min(8, images.shape[0])
states = pqc.encode_images(images, cfg.model.image_size)
small = F.interpolate(images[:n_show].double(), size=(cfg.model.image_size,) * 2, mode="bilinear", align_corners=False)
decoded = pqc.decode_images(states[:n_show], cfg.model.image_size)
glue_value("n-train", int(images.shape[0]))
glue_value("norm-error", float((torch.linalg.vector_norm(states, dim=1) - 1).abs().max()))
glue_value("decode-error", float((decoded.double() - small / small.amax(dim=(1, 2, 3), keepdim=True)).abs().max()))
rows = {"MNIST 28×28": images[:n_show], "resized": small.clamp(0, 1), r"$|\psi|/\max$": decoded}
encode_df = pd.DataFrame({"image": range(n_show), "label": labels[:n_show].tolist()})
glue_figure("fig-pqc-encoding", common.plot_image_rows(rows), record, encode_df, figure_dir)

# %% [markdown]
# ```{glue:figure} fig-pqc-encoding
# :name: fig-pqc-encoding
#
# Training digits (top), shrunk to {glue:text}`image_size`×{glue:text}`image_size` (middle), and
# decoded from their amplitude encoding (bottom). *Provenance:* {glue:text}`fig-pqc-encoding-note`
# ```
#
# All {glue:text}`n-train` training states have unit norm (largest deviation
# {glue:text}`norm-error:.1e`), and decoding returns the resized image divided by its brightest
# pixel to {glue:text}`decode-error:.1e`.
#
# ## The forward process in state space
#
# The noise is classical. Each amplitude vector is noised as in DDPM ({cite:t}`jo2025qamp` eq. 2) and renormalised,
#
# $$
# |x_t\rangle = \frac{\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon}{\big\lVert \sqrt{\bar\alpha_t}\,x_0
# + \sqrt{1-\bar\alpha_t}\,\epsilon\big\rVert_2},
# $$ (eq-state-noising)
#
# with either **real** noise $\epsilon \sim \mathcal{N}(0, I)$ or **complex** noise
# $\epsilon = \epsilon_r + i\epsilon_i$ with independent standard normal parts; the papers report
# that complex noise works much better ({cite:t}`jo2025qamp` §1.2). Both authors' codes draw unit-variance
# noise per amplitude while $x_0$ has unit *norm*, so the noise is $\sqrt d$ times stronger,
# relative to the signal, than in pixel-space DDPM. Taking the ratio of the expectations of
# $|\langle x_0|\cdot\rangle|^2$ and of the squared norm gives the fidelity to the clean state,
#
# $$
# \mathbb{E}\,|\langle x_0|x_t\rangle|^2 \approx \frac{\bar\alpha_t + \kappa(1-\bar\alpha_t)}{\bar\alpha_t
# + \kappa(1-\bar\alpha_t)\,d},
# \qquad \kappa = 1 \text{ (real)},\ 2 \text{ (complex)},
# $$ (eq-noised-fidelity)
#
# exact for large $d$. Complex noise carries twice the power and also spreads the state over the
# imaginary directions that real images never occupy. With this chapter's schedule (constant
# $\beta = 0.01$, A2) the fidelity to the clean digit is already far below 1 after the first step.

# %%
x_show = states[: min(16, states.shape[0])]
noising_df = chapter.noising_fidelity_frame(x_show, cfg.model, params.knobs.n_draws, gen)
glue_figure("fig-pqc-noising-fidelity", chapter.plot_noising_fidelity(noising_df), record, noising_df, figure_dir)
by = noising_df.set_index(["noise", "t"])
for kind in ("real", "complex"):
    glue_value(f"fid-1-{kind}", float(by.loc[(kind, min(1, cfg.model.T)), "fidelity"]))
    glue_value(f"fid-T-{kind}", float(by.loc[(kind, cfg.model.T), "fidelity"]))
    glue_value(f"imag-T-{kind}", float(by.loc[(kind, cfg.model.T), "imag_weight"]))
glue_value("approx-error", float((noising_df["fidelity"] - noising_df["approx"]).abs().max()))
glue_value("one-over-d", 1.0 / cfg.model.state_dim)

grid_t = sorted({0, 1, cfg.model.T // 2, cfg.model.T} & set(range(cfg.model.T + 1)))
n_rows = min(3, x_show.shape[0])
noised = {kind: chapter.noised_images(x_show[:n_rows], cfg.model, grid_t, kind, gen) for kind in ("real", "complex")}
grid = {t: torch.cat([noised["real"][t], noised["complex"][t]]) for t in grid_t}
grid_df = pd.DataFrame({"t": grid_t})
glue_figure("fig-pqc-noising-grid", plotting.plot_noising_grid(grid, value_range=(0.0, 1.0)), record, grid_df, figure_dir)
glue_value("grid-rows", n_rows)

# %% [markdown]
# ```{glue:figure} fig-pqc-noising-fidelity
# :name: fig-pqc-noising-fidelity
#
# Fidelity between a clean digit state and its noised, renormalised version against $t$, for real
# and complex noise: Monte-Carlo means over digits and {glue:text}`n_draws` draws (±2 standard
# errors) and the approximation {eq}`eq-noised-fidelity` (dashed). *Provenance:*
# {glue:text}`fig-pqc-noising-fidelity-note`
# ```
#
# After one step the fidelity to the clean digit is {glue:text}`fid-1-real:.3f` with real noise and
# {glue:text}`fid-1-complex:.3f` with complex noise; at $t = T$ it is {glue:text}`fid-T-real:.3f`
# and {glue:text}`fid-T-complex:.3f` (a random state has $1/d =$ {glue:text}`one-over-d:.3f`). The
# approximation {eq}`eq-noised-fidelity` is within {glue:text}`approx-error:.3f` of every Monte-Carlo
# mean. At $t = T$ complex noise has moved a fraction {glue:text}`imag-T-complex:.2f` of the
# state's weight into the imaginary parts (real noise: {glue:text}`imag-T-real:.1f`).
#
# ```{glue:figure} fig-pqc-noising-grid
# :name: fig-pqc-noising-grid
#
# Decoded noised states $|x_t|/\max$ at several $t$: the top {glue:text}`grid-rows` rows with real
# noise, the bottom {glue:text}`grid-rows` with complex noise (one noise draw per digit, shared by
# all $t$). *Provenance:* {glue:text}`fig-pqc-noising-grid-note`
# ```
#
# ## The denoising circuit
#
# The circuit follows the authors' 2025 code (the authors' 2025 follow-up code). Three blocks of
# {glue:text}`layers_per_block` layers, each layer a general rotation $\mathrm{Rot}(\phi,\theta,\omega)$
# on every qubit followed by a ladder of CNOTs, act on the data qubits; the middle block also acts
# on one extra qubit prepared in $|0\rangle$. With `ancilla="postselect"` (A2) that ancilla is
# projected on $|0\rangle$ afterwards and the state renormalised; with `"measure"` (the 2023 code,
# A1) it is measured and the observed branch kept. Either way the step is **not unitary**, which,
# as the last chapter showed, is what a denoiser must be. Every step $t$ has its own angles.
#
# The training pair for step $t$ is the noised state $|x_t\rangle$ of {eq}`eq-state-noising` and,
# as target, the normalised DDPM posterior mean $\tilde\mu_t(x_0, x_t)$ (Ho et al. eq. 7, A2). The
# loss is the infidelity ({cite:t}`jo2025qamp` eq. 10 for pure states)
#
# $$
# \mathcal{L}(\theta) = 1 - \mathbb{E}_{x_0, t}\,\big|\langle\tilde\mu_t|\,P(\theta, t)\,|x_t\rangle\big|^2 .
# $$ (eq-pqc-loss)
#
# Generation starts from a normalised noise state and applies $P(\theta, T), \dots, P(\theta, 1)$.

# %%
run = run_experiment(cfg, results_root=root, progress=False)
loss_df = common.loss_frame({"PQC denoiser": [run]}, window=max(1, cfg.train.steps // 30))
fig = common.plot_loss_curves(loss_df, ylabel=r"training infidelity $1 - |\langle\tilde\mu_t|P|x_t\rangle|^2$")
glue_figure("fig-pqc-loss", fig, record, loss_df, figure_dir)
n_tail = max(1, cfg.train.steps // 10)
glue_value("run", f"{run.config.experiment}/{run.config_hash}")
glue_value("train-s", float(run.timing["train_total_wall_s"]))
glue_value("params-run", int(run.metrics["circuit_parameters"]))
glue_value("loss-first", float(sum(run.losses[:n_tail]) / n_tail))
glue_value("loss-last", float(sum(run.losses[-n_tail:]) / n_tail))
glue_value("n-tail", n_tail)

model = runner.load_trained_model(run)
test_cfg = dataclasses.replace(cfg.data, split="test", images_per_class=min(cfg.data.images_per_class, 64))
test_states = pqc.encode_images(training_images(test_cfg)[0], cfg.model.image_size)
per_t = chapter.per_step_infidelity(model, test_states, gen)
glue_figure("fig-pqc-per-step", chapter.plot_per_step_infidelity(per_t), record, per_t, figure_dir)
mean_per_map = per_t.groupby("map")["infidelity"].mean()
wide = per_t.pivot(index="t", columns="map", values="infidelity")
zero_per_t = chapter.per_step_infidelity(chapter.with_zero_angles(model), test_states, gen)
glue_value("infid-model", float(mean_per_map["trained circuit"]))
glue_value("infid-identity", float(mean_per_map["identity (no denoising)"]))
glue_value("infid-zero", float(zero_per_t[zero_per_t["map"] == "trained circuit"]["infidelity"].mean()))
glue_value("infid-identity-1", float(wide.loc[1, "identity (no denoising)"]))
glue_value("steps-beating-identity", int((wide["trained circuit"] < wide["identity (no denoising)"]).sum()))
glue_value(
    "model-vs-identity", "lower" if mean_per_map["trained circuit"] < mean_per_map["identity (no denoising)"] else "higher"
)
glue_value("n-test", int(test_states.shape[0]))

# %% [markdown]
# ```{glue:figure} fig-pqc-loss
# :name: fig-pqc-loss
#
# Training infidelity {eq}`eq-pqc-loss` per Adam step (running mean). *Provenance:*
# {glue:text}`fig-pqc-loss-note`
# ```
#
# The run {glue:text}`run` trained {glue:text}`params-run` circuit angles in
# {glue:text}`train-s:.0f` s. Averaged over {glue:text}`n-tail` steps, the training infidelity fell
# from {glue:text}`loss-first:.3f` to {glue:text}`loss-last:.3f`.
#
# ```{glue:figure} fig-pqc-per-step
# :name: fig-pqc-per-step
#
# Infidelity to the target $\tilde\mu_t$ at every step $t$ on {glue:text}`n-test` *test* digits, for
# the trained circuit and for doing nothing ($P = I$, output $|x_t\rangle$). *Provenance:*
# {glue:text}`fig-pqc-per-step-note`
# ```
#
# On test digits the trained circuit's mean infidelity over the $T$ steps is
# {glue:text}`infid-model:.3f`, {glue:text}`model-vs-identity` than the {glue:text}`infid-identity:.3f`
# of doing nothing; it beats the identity map at {glue:text}`steps-beating-identity` of the
# {glue:text}`T` steps. Doing nothing is a strong baseline here. The target $\tilde\mu_t$ mixes
# $x_0$ and $x_t$ with weights $\frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}$ and
# $\frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}$; only at $t = 1$ is it the clean
# digit (identity infidelity {glue:text}`infid-identity-1:.3f`), and for larger $t$ it is almost
# $x_t$ itself. A circuit, however, is not the identity when its angles are zero: the CNOT ladders
# stay and permute the amplitudes. With all angles set to zero this circuit scores
# {glue:text}`infid-zero:.3f`, so training has to undo the circuit's own fixed gates before it can
# improve on doing nothing. The papers train for far longer (A2: 2000 epochs).
#
# ## Generated digits
#
# The grid shows generated samples (upscaled bilinearly from {glue:text}`image_size`² to 28×28 for
# the metrics, as in the package's evaluation), the images decoded from the same untrained circuit
# (initial angles), and real test digits sent through the same shrink–normalise–decode–upscale
# pipeline, so that all three rows have the same resolution loss.

# %%
samples = runner.run_samples(run)
reference = pqc_eval_reference(cfg)
untrained = common.sample_untrained(cfg, cfg.eval.n_samples)
n_cols = min(10, cfg.eval.n_samples)
rows = {"generated": samples[:n_cols], "untrained circuit": untrained[:n_cols], "real (same pipeline)": reference[:n_cols]}
glue_figure("fig-pqc-samples", common.plot_image_rows(rows), record, pd.DataFrame({"column": range(n_cols)}), figure_dir)
ssim_df = common.ssim_table(
    {"trained": samples, "untrained circuit": untrained}, reference, cfg.eval.ssim_convention, cfg.eval.ssim_pairing
)
glue("tab-pqc-ssim", ssim_df.style.format(precision=4).hide(axis="index"), display=False)
ssim_by = ssim_df.set_index("label")
glue_value("ssim-trained", float(ssim_by.loc["trained", "ssim"]))
glue_value("ssim-untrained", float(ssim_by.loc["untrained circuit", "ssim"]))
glue_value("ssim-stored", float(run.metrics["ssim"]))
glue_value("ssim-convention", cfg.eval.ssim_convention)
glue_value("ssim-pairing", cfg.eval.ssim_pairing)
glue_value("n-reference", int(reference.shape[0]))

# %% [markdown]
# ```{glue:figure} fig-pqc-samples
# :name: fig-pqc-samples
#
# Generated digits (top), images from the untrained circuit (middle) and real test digits through
# the same pipeline (bottom). *Provenance:* {glue:text}`fig-pqc-samples-note`
# ```
#
# ```{glue:figure} tab-pqc-ssim
# :name: tab-pqc-ssim
#
# SSIM {cite:p}`wang2004ssim` of {glue:text}`n_samples` generated images against
# {glue:text}`n-reference` real test digits (same pipeline), convention {glue:text}`ssim-convention`
# (scikit-image's 7×7 uniform window), pairing {glue:text}`ssim-pairing` (each generated image
# scored against its most similar real image).
# ```
#
# The trained model's SSIM is {glue:text}`ssim-trained:.3f` (the value stored with the run:
# {glue:text}`ssim-stored:.3f`) against {glue:text}`ssim-untrained:.3f` for the untrained circuit.
# No FID is computed here: the papers' FID of 38.2 {cite:p}`cacioppo2023qdm` belongs to the latent
# model, with a protocol that is not published, and an FID from a few dozen images at this
# resolution would mostly measure its own bias (the next chapter shows that bias).
#
# ## Parameter counts
#
# The paper's conditioned latent model, which generates all ten digits, has **1110** trainable
# parameters. The authors' 2023 code explains the number: three blocks of
# StronglyEntangling layers (3 angles per qubit and layer) with 15, 20 and 15 layers on 7, 8 and 7
# wires (3 latent + 4 label qubits, plus the ancilla in the middle block), and *one* parameter set
# shared by all steps. The table counts every model of this chapter and of the presets with the
# package (`circuit_parameter_count`) and writes the same count out as a formula.

# %%
configs = {"this chapter": cfg.model}
configs |= {name: get_experiment(name).model for name in ("pqc-mnist", "pqc-latent-mnist", "pqc-cond-latent-mnist")}
configs |= {name: c.model for name, c in common.preset_configs("pqc_denoiser").items()}
count_df = chapter.pqc_parameter_table(configs)
glue("tab-pqc-params", count_df.style.hide(axis="index"), display=False)
counts = count_df.set_index("model")["parameters (package)"]
glue_value("count-cond-latent", int(counts["pqc-cond-latent-mnist"]))
glue_value("formula-cond-latent", str(count_df.set_index("model").loc["pqc-cond-latent-mnist", "formula"]))
glue_value("formula-matches", bool((count_df["formula value"] == count_df["parameters (package)"]).all()))
glue_value("presets-found", ", ".join(common.preset_configs("pqc_denoiser")) or "none")
glue_value("count-chapter", int(counts["this chapter"]))

# %% [markdown]
# ```{glue:figure} tab-pqc-params
# :name: tab-pqc-params
#
# Trainable circuit parameters of the chapter's model, the registered experiments and the
# registered presets (autoencoders not counted). *Formula:* layers · wires · angles per block,
# times $T$ for per-step parameters.
# ```
#
# The package counts {glue:text}`count-cond-latent` parameters for the conditioned latent model,
# {glue:text}`formula-cond-latent`, which is the number the paper reports; every formula agrees with
# the package's count (checked: {glue:text}`formula-matches`). Presets found:
# {glue:text}`presets-found`. This chapter's model has {glue:text}`count-chapter` parameters: more
# than the 1110, because A2 gives every step its own angles, while A1 shares one set across steps
# (and keeps a snapshot of it after training on each step).
#
# ## The papers' models at the book profile
#
# The run above is a small circuit on a small budget, made while the page is built. The papers'
# own models are larger and train longer. The {glue:text}`profile` profile keeps each preset's
# circuit, data, schedule, $T$, batch size, optimiser and autoencoder, and trains at most
# {glue:text}`book-steps` steps ({glue:text}`book-steps-note`). The cap was read off measured curves
# ({numref}`fig-pqc-budget`): one seed of the conditioned latent and the full-quantum presets at their paper
# settings (Kölle et al.'s preset was not measured), trained in stages and
# scored after each by qdm's classifier. Each model is trained at the seeds
# {glue:text}`book_seeds` and scored on {glue:text}`book-n-samples` samples against
# {glue:text}`book-n-reference` held-out test images: TF-Inception FID and KID, SSIM
# ({glue:text}`book-ssim-convention` convention, {glue:text}`book-ssim-pairing` pairing), qdm's MNIST
# classifier (test accuracy {glue:text}`book-classifier-accuracy:.4f`), the copy rate and Inception
# precision/recall. The models:
#
# - **conditioned latent (A1)**: `cacioppo2023-cond-latent`, the 2023 code's 1110-parameter circuit on the 8-dim
#   latent of a classical autoencoder, with 4 label qubits requesting the digit;
# - the same with **real noise**, and with **DDPM noising** instead of the code's (the two ablations);
# - **full quantum 16×16 (A2)**: `cacioppo2025-full`, the follow-up's circuit on 256 amplitudes of digits 0 and 1;
# - **Kölle et al. 8×8**: `koelle2024`, 55 StronglyEntangling layers on 6 qubits, 80 training images.
#
# {glue:text}`book-sources`.

# %%
from qdm.chapters import pqc_book
from qdm.chapters.runs import chapter_runs, missing_admonition, source_text
from qdm.families.pqc import BOOK_STEPS

knobs = params.knobs
book = chapter_runs(pqc_book.CHAPTER, knobs.profile, knobs.book_seed_list, train_missing=knobs.train_missing,
                    workers=knobs.workers, results_root=root, allow_unresolved=True)
glue("book-missing", Markdown(missing_admonition(book)), display=False)
glue_value("book-sources", source_text(book))
glue_value("book-command", book.command())
book_frame = pqc_book.run_frame(book)
book_frame.to_csv(figure_dir / "book-runs.csv", index=False)
book_record = provenance.record(params.as_dict(), knobs.book_seed_list[0], [load_dataset("mnist", "train").source.file],
                                producer="notebooks/03_pqc_denoiser.py")
steps_by_model = book_frame.groupby("model", sort=False)["steps"].first()
glue_value("book-steps", BOOK_STEPS if knobs.profile == "book" else "the profile's")
glue_value("book-steps-note", ", ".join(f"{m}: {int(n):,}" for m, n in steps_by_model.items()) or "no run shown")
first = book_frame.iloc[0] if len(book_frame) else None
glue_value("book-n-samples", int(first["fid_n_generated"]) if first is not None else "no")
glue_value("book-n-reference", int(first["fid_n_reference"]) if first is not None else "no")
glue_value("book-classifier-accuracy", float(first["classifier_test_accuracy"]) if first is not None else float("nan"))
book_cfg = book.runs[0].config if book.runs else cfg
glue_value("book-ssim-convention", book_cfg.eval.ssim_convention)
glue_value("book-ssim-pairing", book_cfg.eval.ssim_pairing)
budget = pqc_book.budget_frame(provenance.repo_root() / "ledger" / "measurements")
glue_figure("fig-pqc-budget", pqc_book.plot_budget(budget, BOOK_STEPS), book_record, budget, figure_dir)
for key, value in pqc_book.budget_points(budget, "cacioppo2023-cond-latent", BOOK_STEPS).items():
    glue_value(f"budget-cond-{key}", value)

summary = pqc_book.summary_table(book_frame)
shown = summary.assign(interval=[f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(summary["ci_low"], summary["ci_high"])])
glue("tab-pqc-book", shown[["model", "metric", "seeds", "mean", "interval", "images"]].style.format(
    {"mean": "{:.4g}"}).hide(axis="index"), display=False)
glue_figure("fig-pqc-book-points", pqc_book.plot_metric_points(book_frame), book_record, book_frame, figure_dir)
by = summary.set_index(["model", "key"])
for model, tag in ((pqc_book.BASE, "base"), ("full quantum 16×16 (A2)", "full"), ("Kölle et al. 8×8", "koelle")):
    for key in ("recognised", "fid", "ssim", "memorisation_copy_rate"):
        value = float(by.loc[(model, key), "mean"]) if (model, key) in by.index else float("nan")
        glue_value(f"book-{tag}-{key}", value)

# %% [markdown]
# ```{glue:figure} fig-pqc-budget
# :name: fig-pqc-budget
#
# What more training buys: the fraction of samples qdm's classifier recognises (the requested digit, or a
# trained digit for the unconditioned models) and the classifier FID against held-out images, after each stage
# of one run per preset at its paper settings (200 samples per stage, seed 0); dashed: the book profile's cap.
# *Provenance:* {glue:text}`fig-pqc-budget-note`
# ```
#
# The conditioned latent model recognises {glue:text}`budget-cond-acc-cap:.3f` of its samples at the cap and
# {glue:text}`budget-cond-acc-last:.3f` after {glue:text}`budget-cond-last-steps` steps, its paper's full budget
# (classifier FID {glue:text}`budget-cond-cfid-cap:.1f` against {glue:text}`budget-cond-cfid-last:.1f`):
# {glue:text}`budget-cond-reading`.
#
# ```{glue:md} book-missing
# :format: myst
# ```
#
# ```{glue:figure} tab-pqc-book
# :name: tab-pqc-book
#
# The papers' models at the {glue:text}`profile` profile: per metric the mean over seeds, its 95 % t-interval
# and the images behind it. "Recognised" counts samples qdm's classifier assigns to the requested digit
# (conditioned model) or to one of the trained digits (unconditioned models).
# ```
#
# ```{glue:figure} fig-pqc-book-points
# :name: fig-pqc-book-points
#
# Each seed's value (points) and the seed mean (bars) per model. *Provenance:*
# {glue:text}`fig-pqc-book-points-note`
# ```
#
# Averaged over seeds, the classifier recognises {glue:text}`book-base-recognised:.2f` of the conditioned latent
# model's samples as the digit they were asked for, {glue:text}`book-full-recognised:.2f` of the full-quantum
# model's as a 0 or a 1, and {glue:text}`book-koelle-recognised:.2f` of Kölle et al.'s. The FIDs are
# {glue:text}`book-base-fid:.1f`, {glue:text}`book-full-fid:.1f` and {glue:text}`book-koelle-fid:.1f`. Copy rates
# are {glue:text}`book-base-memorisation_copy_rate:.2f`, {glue:text}`book-full-memorisation_copy_rate:.2f` and
# {glue:text}`book-koelle-memorisation_copy_rate:.2f`.
#
# ### All ten digits from 1110 parameters?
#
# The paper's conditioned latent model "generates all ten digits". A run requests the digits in turn (sample $i$
# asks for digit $i mod 10$), so its first hundred samples are ten of each.

# %%
base_record = pqc_book.first_record(book, pqc_book.BASE)
grid = pqc_book.label_grid(base_record) if base_record is not None else {}
grid_rows = pd.DataFrame({"label": list(grid), "samples": [int(x.shape[0]) for x in grid.values()],
                          "run": base_record.config_hash if base_record is not None else "-",
                          "seed": base_record.config.train.seed if base_record is not None else -1})
glue_figure("fig-pqc-label-grid", pqc_book.plot_label_grid(grid), book_record, grid_rows, figure_dir)
per_label = pqc_book.per_label_frame(book, [pqc_book.BASE])
label_table = pqc_book.per_label_table(per_label) if len(per_label) else per_label
glue("tab-pqc-per-label", label_table.style.format(precision=3).hide(axis="index"), display=False)
glue_value("grid-seed", base_record.config.train.seed if base_record is not None else "none")
if len(label_table):
    worst, best = label_table.loc[label_table["mean"].idxmin()], label_table.loc[label_table["mean"].idxmax()]
    glue_value("label-worst", int(worst["label"]))
    glue_value("label-worst-acc", float(worst["mean"]))
    glue_value("label-best", int(best["label"]))
    glue_value("label-best-acc", float(best["mean"]))
    glue_value("labels-above-half", int((label_table["mean"] > 0.5).sum()))
else:
    for key in ("label-worst", "label-worst-acc", "label-best", "label-best-acc", "labels-above-half"):
        glue_value(key, float("nan"))
published = pqc_book.published_table(book_frame)
glue("tab-pqc-published", published.style.format(precision=4).hide(axis="index"), display=False)
glue_value("published-fid", pqc_book.PUBLISHED_FID)

# %% [markdown]
# ```{glue:figure} fig-pqc-label-grid
# :name: fig-pqc-label-grid
#
# The conditioned latent model (seed {glue:text}`grid-seed`): ten samples of each requested digit, one row per
# digit. *Provenance:* {glue:text}`fig-pqc-label-grid-note`
# ```
#
# ```{glue:figure} tab-pqc-per-label
# :name: tab-pqc-per-label
#
# Per requested digit: the fraction of the conditioned latent model's samples that qdm's classifier assigns to
# it, mean over seeds with the lowest and highest seed.
# ```
#
# The classifier recognises the requested digit in {glue:text}`label-best-acc:.2f` of the samples for digit
# {glue:text}`label-best` and in {glue:text}`label-worst-acc:.2f` for digit {glue:text}`label-worst`;
# {glue:text}`labels-above-half` of the ten digits are recognised in more than half of their samples.
#
# ```{glue:figure} tab-pqc-published
# :name: tab-pqc-published
#
# The paper's FID of the latent model beside qdm's. The paper states neither the number of images nor the feature
# network, and the authors' code has no FID, so the two numbers are not comparable.
# ```
#
# ### Ablations: real noise and the DDPM forward process
#
# Each ablation changes one field of the conditioned latent model and is trained at the same seeds; the table
# gives, seed by seed, the ablation minus the model as published (Holm's correction over its three metrics).

# %%
ablations = pqc_book.ablation_table(book_frame)
ablations.to_csv(figure_dir / "ablations.csv", index=False)
glue("tab-pqc-ablations", ablations[["ablation", "metric", "pairs", "mean_diff", "ci_low", "ci_high", "p_holm",
                                     "result"]].style.format(precision=3).hide(axis="index"), display=False)
glue_value("ablation-text", pqc_book.ablation_text(ablations))

# %% [markdown]
# ```{glue:figure} tab-pqc-ablations
# :name: tab-pqc-ablations
#
# Seed-paired differences ablation − conditioned latent (A1): mean, 95 % t-interval, Holm-corrected p-value.
# ```
#
# {glue:text}`ablation-text`
#
# ## Summary
#
# - Amplitude encoding puts a {glue:text}`image_size`×{glue:text}`image_size` image on
#   {glue:text}`n-qubits` qubits; decoding $|\psi|/\max$ recovers it up to brightness.
# - The forward process is classical Gaussian noise on the amplitudes. Unit-variance noise on a
#   unit-norm state is strong: the fidelity to the clean digit falls to {glue:text}`fid-1-complex:.2f`
#   after one step with complex noise, as {eq}`eq-noised-fidelity` predicts.
# - A circuit with a post-selected ancilla, trained for {glue:text}`steps` steps on the infidelity
#   to the DDPM posterior mean, reaches a test infidelity of {glue:text}`infid-model:.3f`,
#   {glue:text}`model-vs-identity` than the {glue:text}`infid-identity:.3f` of doing nothing: at this
#   budget the identity map is the baseline to beat, and the circuit's fixed CNOT ladders start it
#   far from that baseline ({glue:text}`infid-zero:.3f` at zero angles).
# - The 1110 parameters of the paper's conditioned latent model are reproduced exactly from the
#   circuit's structure.
