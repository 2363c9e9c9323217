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
# # The depolarizing quantum diffusion model
#
# The previous chapter showed that a depolarizing channel drives any state to the maximally mixed
# state $I/d$ and that no unitary can bring it back. This chapter trains the model of the seed
# report's sections 1.3.5–1.3.8 {cite:p}`jo2025qamp`: a reverse process made of parameterized
# circuits on the system **plus ancilla qubits**, measured and reset after each step, that
# generates an ensemble of pure target states from $I/d$. A unitary-only reverse process is
# trained beside it as the control that, by the argument of the last chapter, must fail.
#
# :::{admonition} About this notebook
# :class: note
# - **Source:** the QAMP 2025 report, §1.3.5–1.3.8 {cite:p}`jo2025qamp`. The closest published relative
#   is MSQuDDPM {cite:p}`kwun2025msquddpm`, a mixed-state QuDDPM with a depolarizing forward process and
#   an ancilla-assisted reverse process; other related models: QuDDPM
#   {cite:p}`zhang2024quddpm` and quantum-noise-driven diffusion {cite:p}`parigi2023qndgdm`; the
#   channel algebra is in Nielsen & Chuang {cite:p}`nielsen2010qcqi`.
# - **Runs:** about half a minute on one CPU core at the default parameters (two trainings of
#   400 steps on a 3-qubit density matrix simulator).
# - **Parameters:** the cell tagged `parameters` below; run with others through papermill,
#   e.g. `python -m qdm.nb run notebooks/02_depolarizing_qdm.py out.ipynb -p n_qubits 3 -p steps 1000`.
#   The two trainings are the registered experiments `depolarizing-qdm` and
#   `depolarizing-qdm-unitary` with these values; their run folders (config, checkpoint, losses,
#   metrics, provenance) are reused when the notebook runs again with the same values.
# - **Randomness:** `seed` seeds the target ensemble, the circuit initialisation, the training
#   and the sampled trajectories.
# :::

# %% tags=["parameters"]
n_qubits: int = 2  # system qubits (1..4); Hilbert-space dimension d is 2**n_qubits
n_ancilla: int = 1  # ancilla qubits of the reverse channel (1..3)
T: int = 10  # depolarizing steps (cosine schedule)
n_layers: int = 2  # StronglyEntangling layers per reverse step
target: str = "cluster"  # target ensemble: "cluster" (around a Haar-random state) or "line"
loss: str = "final"  # "final" (jo2025qamp eq. 10, on the generated state) or "stepwise" (every step vs the forward marginal)
spread: float = 0.3  # size of the random rotations that make the cluster (0: a single state)
n_states: int = 64  # states in the target ensemble
steps: int = 400  # Adam steps of each training
lr: float = 0.05  # Adam learning rate
seed: int = 0  # seed of the ensemble, the initialisation, the training and the trajectories
n_trajectories: int = 512  # sampled quantum trajectories for the unravelling check
results_dir: str = ""  # folder for runs and figures ("": $QDM_RESULTS_DIR, else <repo>/results)

# %% tags=["hide-input"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's widget check; no progress bars here
from qdm.chapters import depolarizing as chapter

params = chapter.from_namespace(globals())  # the two configs and the chapter's own knobs, validated
cfgs = params.configs  # "ancilla": depolarizing-qdm, "unitary": depolarizing-qdm-unitary, with these values

import pandas as pd
import torch

from qdm import plotting, provenance, quantum, runner
from qdm.chapters import common
from qdm.models import depolarizing as depol
from qdm.nb import glue_figure, glue_value
from qdm.runner import run_experiment

torch.set_num_threads(1)
plotting.set_style()
root = common.results_root(params.knobs.results_dir)
figure_dir = root / "figures" / "02_depolarizing_qdm"
record = provenance.record(params.as_dict(), cfgs["ancilla"].train.seed, producer="notebooks/02_depolarizing_qdm.py")
for key, value in params.as_dict().items():
    glue_value(key, value)

# %% [markdown]
# ## The model
#
# **Data.** The data are $N =$ {glue:text}`n_states` pure states $|\psi_j\rangle$ of
# $n =$ {glue:text}`n_qubits` qubits ($d =$ {glue:text}`d`). With `target="cluster"` they are small
# random rotations $e^{-i\,s H_j}|\psi_0\rangle$ of a Haar-random centre, with $H_j$ from the
# Gaussian unitary ensemble and spread $s =$ {glue:text}`spread`; with `target="line"` they are
# $\cos\theta|0\dots0\rangle + \sin\theta|1\dots1\rangle$ for random $\theta$. Everything the model
# can learn about the ensemble is in its mean state $\bar\rho = \frac1N\sum_j |\psi_j\rangle\langle\psi_j|$.
#
# **Forward process** ({cite:t}`jo2025qamp` eqs. 7–8). Each state is depolarized for $T =$ {glue:text}`T` steps,
# $\rho_t = (1-p_t)\rho_{t-1} + p_t I/d$, so that $\rho_t = \alpha_t\rho_0 + (1-\alpha_t)I/d$ with
# $\alpha_t = \prod_{s\le t}(1-p_s)$; here $p_t$ follows the cosine schedule
# {cite:p}`nichol2021improved`, which reaches $\alpha_T \approx 0$.
#
# **Reverse process** ({cite:t}`jo2025qamp` eq. 9, §1.3.7). Step $t$ maps level $t$ to level $t-1$ with the channel
#
# $$
# \mathcal{D}_t(\rho) = \operatorname{tr}_{\text{anc}}\!\Big[U(\theta_t)\,\big(\rho\otimes|0\rangle\langle0|^{\otimes
# k}\big)\,U(\theta_t)^\dagger\Big],
# $$ (eq-ancilla-channel)
#
# where $U(\theta_t)$ is a {glue:text}`n_layers`-layer StronglyEntangling circuit on the $n$ system
# and $k =$ {glue:text}`n_ancilla` ancilla qubits, with its own angles for every $t$. Measuring the
# ancillas and resetting them to $|0\rangle$ before the next step realises this channel; averaged
# over the outcomes it is the partial trace. Generation starts from $\rho_T = I/d$ and applies
# $\mathcal{D}_T, \dots, \mathcal{D}_1$. The *unitary control* has $k = 0$: $\mathcal{D}_t(\rho) = U\rho U^\dagger$.
#
# **Loss** ({cite:t}`jo2025qamp` eq. 10). Both models are trained with the {glue:text}`loss` loss. `"final"`
# minimises $1 - \frac1N\sum_j\langle\psi_j|\rho_{\text{gen}}|\psi_j\rangle$ with
# $\rho_{\text{gen}} = \mathcal{D}_1\circ\dots\circ\mathcal{D}_T(I/d)$; `loss="stepwise"` instead
# asks every step to map the forward marginal $\rho_t(\psi)$ to $\rho_{t-1}(\psi)$, scored by the
# Uhlmann fidelity ({cite:t}`jo2025qamp` §1.3.8). Since
# $\frac1N\sum_j\langle\psi_j|\rho|\psi_j\rangle = \operatorname{tr}(\rho\,\bar\rho)$ is linear in
# $\rho$, its maximum over all states is reached by a pure state and equals the largest eigenvalue
# of $\bar\rho$:
#
# $$
# \frac1N\sum_j\langle\psi_j|\rho_{\text{gen}}|\psi_j\rangle \;\le\; \lambda_{\max}(\bar\rho).
# $$ (eq-fidelity-bound)
#
# No generator, quantum or classical, that outputs one density matrix can beat this bound; a
# model that reaches it outputs the top eigenvector of $\bar\rho$. Individual *samples* are still
# different pure states: each run of the circuit with measured ancillas follows one quantum
# trajectory, and their average is $\rho_{\text{gen}}$ (see the last section).
#
# ## The target ensemble under the forward process

# %%
model_cfg = cfgs["ancilla"].model
psi = depol.target_states(model_cfg)
rho_bar = depol.ensemble_mean(psi)
p_t, alpha = depol.forward_schedule(model_cfg)
forward = depol.forward_states(quantum.pure_density(psi), alpha)  # (T + 1, N, d, d)
d = model_cfg.dim
levels = torch.cat([torch.ones(1, dtype=torch.float64), alpha])
forward_fidelity = quantum.pure_overlap(psi[None], forward).mean(1)
forward_purity = quantum.purity(forward).mean(1)
glue_value("d", d)
glue_value("alpha-T", float(alpha[-1]))
glue_value("forward-fidelity-error", float((forward_fidelity - (levels + (1 - levels) / d)).abs().max()))
glue_value("forward-purity-error", float((forward_purity - (levels**2 * (1 - 1 / d) + 1 / d)).abs().max()))
glue_value("forward-valid", bool(quantum.is_density(forward.flatten(0, 1))))
eigenvalues, eigenvectors = torch.linalg.eigh(rho_bar)
bound = depol.fidelity_bound(psi)
top = eigenvectors[:, -1]
glue_value("bound", bound)
glue_value("bound-attained-error", abs(float(quantum.pure_overlap(psi, quantum.pure_density(top)).mean()) - bound))
glue_value("rho-bar-purity", float(quantum.purity(rho_bar)))

t_max = model_cfg.T
grid_t = sorted({0, t_max // 4, t_max // 2, (3 * t_max) // 4, t_max})
mean_forward = forward.mean(1)
heatmaps = {t: depol.density_heatmaps(mean_forward[t : t + 1]) for t in grid_t}
fig = plotting.plot_noising_grid(heatmaps, value_range=(0.0, 1.0))
heat_df = pd.DataFrame({"t": grid_t, "alpha_t": [float(levels[t]) for t in grid_t]})
glue_figure("fig-depol-forward", fig, record, heat_df, figure_dir)

# %% [markdown]
# ```{glue:figure} fig-depol-forward
# :name: fig-depol-forward
#
# Entries $|\bar\rho_t|_{ab}$ of the ensemble's mean state under the forward process (black 0,
# white 1): the off-diagonal structure of $\bar\rho$ fades into the flat diagonal of $I/d$.
# *Provenance:* {glue:text}`fig-depol-forward-note`
# ```
#
# Every depolarized state is a valid density matrix (checked: {glue:text}`forward-valid`). For a
# pure $\rho_0 = |\psi\rangle\langle\psi|$, {cite:t}`jo2025qamp` eq. 8 predicts the fidelity
# $\langle\psi|\rho_t|\psi\rangle = \alpha_t + (1-\alpha_t)/d$ and the purity
# $\alpha_t^2(1-1/d) + 1/d$; averaged over the ensemble, the simulated states match to
# {glue:text}`forward-fidelity-error:.1e` and {glue:text}`forward-purity-error:.1e`. At $t = T$,
# $\alpha_T =$ {glue:text}`alpha-T:.1e`: almost nothing of the targets is left.
#
# The ensemble's mean state has purity {glue:text}`rho-bar-purity:.4f` and largest eigenvalue
# $\lambda_{\max}(\bar\rho) =$ {glue:text}`bound:.4f`, the bound {eq}`eq-fidelity-bound`; its top
# eigenvector attains it to {glue:text}`bound-attained-error:.1e`.
#
# ## Training both reverse processes
#
# The two experiments differ only in the reverse channel: {glue:text}`n_ancilla` ancilla qubit(s)
# measured and reset after each step, or none. Each is trained for {glue:text}`steps` Adam steps
# on the loss of {cite:t}`jo2025qamp` eq. 10 through the package's one trainer.

# %%
runs = {label: run_experiment(cfg, results_root=root, progress=False) for label, cfg in cfgs.items()}
loss_df = common.loss_frame({label: [r] for label, r in runs.items()}, window=max(1, cfgs["ancilla"].train.steps // 40))
fig = common.plot_loss_curves(loss_df, ylabel=r"$1 - \mathbb{E}_\psi\langle\psi|\rho_{\mathrm{gen}}|\psi\rangle$")
glue_figure("fig-depol-loss", fig, record, loss_df, figure_dir)
for label, r in runs.items():
    glue_value(f"{label}-params", int(r.metrics["circuit_parameters"]))
    glue_value(f"{label}-train-s", float(r.timing["train_total_wall_s"]))
    glue_value(f"{label}-run", f"{r.config.experiment}/{r.config_hash}")
    glue_value(f"{label}-final-loss", float(r.losses[-1]))

# %% [markdown]
# ```{glue:figure} fig-depol-loss
# :name: fig-depol-loss
#
# Training loss ({cite:t}`jo2025qamp` eq. 10, running mean) of the ancilla model and of the unitary control.
# *Provenance:* {glue:text}`fig-depol-loss-note`
# ```
#
# The ancilla model has {glue:text}`ancilla-params` circuit angles and trained in
# {glue:text}`ancilla-train-s:.1f` s (run {glue:text}`ancilla-run`); its final loss is
# {glue:text}`ancilla-final-loss:.4f`. The unitary control has {glue:text}`unitary-params` angles
# (run {glue:text}`unitary-run`); its final loss is {glue:text}`unitary-final-loss:.4f`.
#
# ## Fidelity and purity along the chain
#
# The trained models are loaded back from their checkpoints. For every level $t$ the figure shows
# the forward process (the depolarized targets, averaged over the ensemble) and the reverse chain
# $\rho_t^{\text{gen}} = \mathcal{D}_{t+1}\circ\dots\circ\mathcal{D}_T(I/d)$, which is read from
# right ($t = T$, where it starts) to left ($t = 0$, the generated state).

# %%
models = {label: runner.load_trained_model(r) for label, r in runs.items()}
along = {label: depol.report_along_t(m, psi) for label, m in models.items()}
along_df = chapter.along_t_frame(along)
glue_figure("fig-depol-along-t", chapter.plot_along_t(along_df, bound, d), record, along_df, figure_dir)
stored = torch.tensor(runs["ancilla"].metrics["fidelity_along_t"], dtype=torch.float64)
glue_value("reload-error", float((stored - along["ancilla"]["fidelity"]).abs().max()))
for label, rep in along.items():
    glue_value(f"{label}-fidelity", float(rep["fidelity"][0]))
    glue_value(f"{label}-purity", float(rep["purity"][0]))
    glue_value(f"{label}-entropy", float(rep["entropy"][0]))
    glue_value(f"{label}-trace-distance", float(rep["trace_distance_to_mean"][0]))
glue_value("ancilla-route-gap", float((along["ancilla"]["fidelity"] - along["ancilla"]["forward_fidelity"]).abs().max()))
glue_value("one-over-d", 1.0 / d)
glue_value("bound-gap", bound - float(along["ancilla"]["fidelity"][0]))
glue_value("gain-fraction", (float(along["ancilla"]["fidelity"][0]) - 1 / d) / (bound - 1 / d))
glue_value("unitary-purity-max", float(along["unitary"]["purity"].max()))
glue_value("unitary-purity-dev", float((along["unitary"]["purity"] - 1 / d).abs().max()))
glue_value("unitary-fidelity-dev", float((along["unitary"]["fidelity"] - 1 / d).abs().max()))

# %% [markdown]
# ```{glue:figure} fig-depol-along-t
# :name: fig-depol-along-t
#
# Fidelity to the targets $\mathbb{E}_\psi\langle\psi|\rho_t|\psi\rangle$ (left) and purity
# $\operatorname{tr}\rho_t^2$ (right) of the forward process (dashed) and of the trained reverse
# chains (solid), with the bound $\lambda_{\max}(\bar\rho)$ and the values $1/d$ of $I/d$.
# *Provenance:* {glue:text}`fig-depol-along-t-note`
# ```
#
# The reloaded ancilla model reproduces the curve stored with its run to
# {glue:text}`reload-error:.1e`. With the final loss only the end of the chain, $t = 0$, is
# supervised: the intermediate states $\rho_t^{\text{gen}}$ are free to take any route from $I/d$
# and need not retrace the forward process (largest gap between the two fidelity curves over $t$:
# {glue:text}`ancilla-route-gap:.3f`). The stepwise loss ties every level to the forward process.
#
# **The ancilla model.** Starting from $I/d$ (purity $1/d =$ {glue:text}`one-over-d:.3f`), its
# reverse steps raise the purity to {glue:text}`ancilla-purity:.4f` (entropy
# {glue:text}`ancilla-entropy:.2e` bits) and the fidelity to the targets to
# {glue:text}`ancilla-fidelity:.4f`: {glue:text}`gain-fraction:.1%` of the way from $1/d$ to the
# bound $\lambda_{\max}(\bar\rho) =$ {glue:text}`bound:.4f` (gap {glue:text}`bound-gap:.1e`). Its
# trace distance to the ensemble mean $\bar\rho$ is {glue:text}`ancilla-trace-distance:.4f`: a
# single generated density matrix cannot *be* the ensemble; the best it can do is the pure top
# eigenvector of $\bar\rho$.
#
# ## Why the unitary control stays at $I/d$
#
# A unitary maps $I/d$ to $U(I/d)U^\dagger = I/d$, so every unitary reverse step leaves the
# maximally mixed state exactly where it is, whatever its angles. The unitary chain's purity never
# exceeds {glue:text}`unitary-purity-max:.6f` (largest deviation from $1/d$ along $t$:
# {glue:text}`unitary-purity-dev:.1e`), and its fidelity to the targets stays at
# $\operatorname{tr}(\bar\rho)/d = 1/d$ (deviation {glue:text}`unitary-fidelity-dev:.1e`). With
# the final loss this also means a zero gradient, hence the flat training curve: the loss
# $1 - \operatorname{tr}(I\bar\rho)/d = 1 - 1/d$ does not depend on $\theta$. (The stepwise loss
# does depend on $\theta$, but no choice of $\theta$ changes what the chain generates from $I/d$.)
# The entropy the forward process added can only leave through the ancillas.
#
# ## Samples are quantum trajectories
#
# Running the circuit once, with the ancillas measured, gives one pure state: each step applies
# the Kraus operator $K_m = (I\otimes\langle m|)U(\theta_t)(I\otimes|0\rangle)$ of the observed
# outcome $m$ (drawn with probability $\lVert K_m\psi\rVert^2$) and renormalises. Averaged over
# trajectories these samples reproduce $\rho_{\text{gen}}$: with {glue:text}`n_trajectories`
# trajectories the trace distance between their average and $\rho_{\text{gen}}$ is
# {glue:text}`trajectory-distance:.3f`, a Monte-Carlo error that shrinks like $1/\sqrt{n}$ (and
# is smallest when $\rho_{\text{gen}}$ is nearly pure, since then nearly every trajectory ends in
# the same state).
# The heatmaps compare $|\bar\rho|$, its top eigenvector, both generated states and one sampled
# trajectory of the ancilla model.
#
# The samples, however, do not reproduce the *spread* of the ensemble. Measured by
# $1 - \mathbb{E}|\langle v|\phi\rangle|^2$ against the top eigenvector $v$ of $\bar\rho$, the
# targets spread by {glue:text}`ensemble-spread:.4f` (that is $1 - \lambda_{\max}$) and the sampled
# trajectories by {glue:text}`trajectory-spread:.4f`. The loss of {cite:t}`jo2025qamp` eq. 10 compares the
# generated state with the ensemble *mean* and is maximised by the single state $v$, so a model
# that reaches the bound collapses onto it; generating the ensemble itself needs a loss that
# compares ensembles of states, as QuDDPM {cite:p}`zhang2024quddpm` does.

# %%
gen = torch.Generator().manual_seed(cfgs["ancilla"].train.seed)
traj = depol.sample_trajectories(models["ancilla"], params.knobs.n_trajectories, gen)
rho_gen = {label: depol.reverse_trajectory(m)[0] for label, m in models.items()}
traj_mean = quantum.pure_density(traj).mean(0)
glue_value("trajectory-distance", float(quantum.trace_distance(traj_mean, rho_gen["ancilla"].to(traj_mean.dtype))))
glue_value("trajectory-spread", 1 - float(quantum.pure_overlap(traj, quantum.pure_density(top)).mean()))
glue_value("ensemble-spread", 1 - float(quantum.pure_overlap(psi, quantum.pure_density(top)).mean()))
states = torch.stack(
    [rho_bar, quantum.pure_density(top), rho_gen["ancilla"].to(rho_bar.dtype),
     rho_gen["unitary"].to(rho_bar.dtype), quantum.pure_density(traj[0])]
)
titles = [r"$\bar\rho$", "top eigvec.", "ancilla model", "unitary control", "one trajectory"]
fig = common.plot_image_rows({r"$|\rho_{ab}|$": depol.density_heatmaps(states)}, col_titles=titles)
states_df = pd.DataFrame({"state": titles, "purity": quantum.purity(states).tolist()})
glue_figure("fig-depol-states", fig, record, states_df, figure_dir)

# %% [markdown]
# ```{glue:figure} fig-depol-states
# :name: fig-depol-states
#
# $|\rho_{ab}|$ (black 0, white 1) of the ensemble mean, its top eigenvector, the states generated
# by the ancilla model and by the unitary control, and one sampled trajectory of the ancilla model.
# *Provenance:* {glue:text}`fig-depol-states-note`
# ```
#
# ## Summary
#
# - The depolarizing forward process follows {cite:t}`jo2025qamp` eq. 8 exactly on the target ensemble, down to
#   $\alpha_T =$ {glue:text}`alpha-T:.1e`.
# - With {glue:text}`n_ancilla` measured ancilla qubit(s) per step, the trained reverse process
#   lifts the generated state from purity $1/d$ to {glue:text}`ancilla-purity:.4f` and its fidelity
#   to the targets to {glue:text}`ancilla-fidelity:.4f`, against the bound
#   $\lambda_{\max}(\bar\rho) =$ {glue:text}`bound:.4f` that no single density matrix can exceed.
# - The unitary control stays at $I/d$ (purity and fidelity $1/d$ to {glue:text}`unitary-purity-dev:.0e`),
#   whatever it is trained on: undoing depolarizing noise needs non-unitary steps.
# - Its samples are quantum trajectories whose average is $\rho_{\text{gen}}$; with the loss of
#   {cite:t}`jo2025qamp` eq. 10 they spread by {glue:text}`trajectory-spread:.4f` around the top eigenvector,
#   against {glue:text}`ensemble-spread:.4f` for the targets.
# - The next chapter's models generate classical images; there the ancillas are measured (or
#   post-selected) inside a denoiser acting on amplitude-encoded states.
