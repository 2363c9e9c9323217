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
# # Diffusion, classical and quantum
#
# This chapter follows sections 1.3.1–1.3.8 of the QAMP 2025 report {cite:p}`jo2025qamp`: the
# Gaussian diffusion model of Ho et al. {cite:p}`ho2020ddpm` and its quantum counterpart, in
# which density matrices are driven to the maximally mixed state by a depolarizing channel.
# Every equation is checked numerically by calling `qdm`, on real MNIST digits for the
# classical part and on random states of a few qubits for the quantum part.
#
# :::{admonition} About this notebook
# :class: note
# - **Source:** the QAMP 2025 report, §1.3 {cite:p}`jo2025qamp`; Ho et al. {cite:p}`ho2020ddpm`;
#   Nichol & Dhariwal {cite:p}`nichol2021improved`; Nielsen & Chuang {cite:p}`nielsen2010qcqi`.
# - **Runs:** a few seconds to a minute on one CPU core at the default parameters.
# - **Parameters:** the cell tagged `parameters` below; run with others through papermill,
#   e.g. `python -m qdm.nb run notebooks/01_diffusion_theory.py out.ipynb -p T 200 -p n_qubits 3`.
# - **Randomness:** every draw comes from generators seeded with `seed`.
# :::

# %% tags=["parameters"]
T: int = 1000  # number of diffusion steps, at least 2
schedule: str = "linear"  # schedule used to noise: "linear", "cosine" or "tailored"
n_qubits: int = 2  # qubits of the depolarized states (1..6)
seed: int = 0  # seed of every random draw
n_images: int = 4  # MNIST digits shown in the noising grid (1..16)
digit: int = 3  # MNIST class of those digits (0..9)
n_samples: int = 1000  # Monte-Carlo draws for the moment checks (100..100000)

# %% tags=["hide-input"]
from qdm.chapters.theory import TheoryParams
from qdm.chapters.common import knobs_from

params = knobs_from(TheoryParams, globals())

import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from qdm import data, diffusion, plotting, provenance, quantum
from qdm.nb import glue_figure, glue_value
from qdm.quantum import depolarizing_closed_forms as closed
from qdm.schedules import make_schedule

torch.set_num_threads(1)
plotting.set_style()
gen = torch.Generator().manual_seed(params.seed)
figure_dir = provenance.results_dir() / "figures" / "01_diffusion_theory"
for key, value in params.as_dict().items():
    glue_value(key, value)

# %% [markdown]
# ## Diffusion models
#
# A diffusion model learns to undo a process that slowly destroys the structure of its data
# {cite:p}`sohl2015deep`. The *forward process* adds a little noise at each of $T$ steps until
# nothing of the data is left; the *reverse process* is a learned chain that starts from pure
# noise and removes it step by step. Sampling new data is running the reverse chain. Here
# $T =$ {glue:text}`T`.
#
# ## The forward process
#
# The forward process is a Markov chain that adds Gaussian noise according to a *variance
# schedule* $\beta_1, \dots, \beta_T$ ({cite:t}`jo2025qamp` eq. 1):
#
# $$
# q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t \mathbf{I}\right).
# $$ (eq-forward-step)
#
# With $\alpha_t = 1-\beta_t$ and $\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$, a product of
# Gaussian steps is again Gaussian, and $x_t$ can be sampled from $x_0$ in one go ({cite:t}`jo2025qamp` eq. 2):
#
# $$
# q(x_t \mid x_0) = \mathcal{N}\!\left(x_t;\ \sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\mathbf{I}\right),
# \qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\quad \epsilon\sim\mathcal{N}(0,\mathbf{I}).
# $$ (eq-forward-closed)
#
# The schedule decides how fast information is lost. The figure compares three: the *linear*
# schedule of Ho et al. ($\beta_t$ from $10^{-4}$ to $0.02$) {cite:p}`ho2020ddpm`, the *cosine*
# schedule of Nichol and Dhariwal {cite:p}`nichol2021improved`, and the *tailored* schedule that
# `qdm` uses as a stated reconstruction of the one Chen et al. mention without a formula
# {cite:p}`chen2025quantum`: the sigmoid schedule of T. Chen {cite:p}`chen2023noise`. The
# signal-to-noise ratio $\mathrm{SNR}_t = \bar\alpha_t / (1-\bar\alpha_t)$
# {cite:p}`kingma2021vdm` makes the difference visible: the linear schedule destroys most of
# the signal early, the cosine schedule spreads the loss evenly in $\log\mathrm{SNR}$, and the
# tailored one keeps the first and last steps gentle and concentrates the noise in the middle.

# %%
schedules = {name: make_schedule(name, params.T) for name in ("linear", "cosine", "tailored")}
sched = schedules[params.schedule]
record_plain = provenance.record(params.as_dict(), params.seed, producer="notebooks/01_diffusion_theory.py")
schedule_df = plotting.schedule_frame(schedules)
glue_figure("fig-schedules", plotting.plot_schedules(schedule_df), record_plain, schedule_df, figure_dir)
for name, s in schedules.items():
    glue_value(f"abar-T-{name}", float(s.alpha_bar[-1]))
    glue_value(f"abar-half-{name}", float(s.alpha_bar_at(max(1, params.T // 2))))

# %% [markdown]
# ```{glue:figure} fig-schedules
# :name: fig-schedules
#
# Noise schedules with $T =$ {glue:text}`T` steps: $\beta_t$ (log scale), $\bar\alpha_t$ and
# $\log_{10}\mathrm{SNR}_t$ against $t/T$. *Provenance:* {glue:text}`fig-schedules-note`
# ```
#
# At the end of the chain the linear schedule leaves $\bar\alpha_T =$
# {glue:text}`abar-T-linear:.2e` of the signal power, the cosine schedule
# {glue:text}`abar-T-cosine:.2e` and the tailored one {glue:text}`abar-T-tailored:.2e`; halfway,
# at $t = T/2$, the three keep $\bar\alpha_{T/2} =$ {glue:text}`abar-half-linear:.3f`,
# {glue:text}`abar-half-cosine:.3f` and {glue:text}`abar-half-tailored:.3f`. (The linear
# schedule was tuned for $T = 1000$: with far fewer steps its $\bar\alpha_T$ stays well above
# zero and $x_T$ is not yet pure noise.)
#
# ### Noising real digits
#
# The grid applies {eq}`eq-forward-closed` with the *{glue:text}`schedule`* schedule to
# {glue:text}`n_images` MNIST training images of the digit {glue:text}`digit`, scaled to
# $[-1, 1]$ as in DDPM. Every column uses the same $\epsilon$, so only $\bar\alpha_t$ changes
# from left to right.

# %%
mnist = data.load_dataset("mnist", "train")
digits = mnist.subset(classes=[params.digit], n_per_class=params.n_images, seed=params.seed)
x0 = digits.to_tensor("minus_one_one")
record_mnist = provenance.record(
    params.as_dict(), params.seed, [digits.source.file], producer="notebooks/01_diffusion_theory.py"
)
grid_times = sorted({0, params.T // 10, params.T // 4, params.T // 2, (3 * params.T) // 4, params.T})
eps = diffusion.gaussian_noise(tuple(x0.shape), gen)
images_by_t = {t: diffusion.q_sample(x0, t, eps, sched) if t > 0 else x0 for t in grid_times}
grid_abar = {t: float(sched.alpha_bar_at(t, allow_zero=True)) for t in grid_times}
grid_df = pd.DataFrame({"t": list(grid_abar), "alpha_bar_t": list(grid_abar.values())})
glue_figure("fig-noising", plotting.plot_noising_grid(images_by_t, grid_abar), record_mnist, grid_df, figure_dir)
glue_value("mnist-md5", digits.source.md5 or "unverified")

# %% [markdown]
# ```{glue:figure} fig-noising
# :name: fig-noising
#
# Forward noising $x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\epsilon$ of MNIST digits
# (rows) at increasing $t$ (columns), grey scale clipped to $[-1, 1]$. *Provenance:*
# {glue:text}`fig-noising-note`
# ```
#
# ### The closed form, checked against step-by-step noising
#
# Equation {eq}`eq-forward-closed` should agree with {glue:text}`T` applications of
# {eq}`eq-forward-step`. Two checks, on the first digit of the grid:
#
# 1. **Means, exactly.** With the noise switched off, step-by-step noising multiplies $x_0$ by
#    $\prod_s\sqrt{\alpha_s}$, which must equal $\sqrt{\bar\alpha_t}$. The largest difference
#    over all pixels and all $t$ is {glue:text}`mean-path-error:.2e` (float32 arithmetic).
# 2. **Variances, by Monte Carlo.** {glue:text}`n_samples` independent step-by-step chains are
#    run to each $t$ of the grid and compared with the same number of one-shot samples of
#    {eq}`eq-forward-closed`. The table lists the largest standardized deviation of the
#    pixel means from $\sqrt{\bar\alpha_t}x_0$ (in units of the Monte-Carlo standard error; for
#    784 pixels values up to about 4 are expected by chance) and the empirical variances pooled
#    over pixels against $1-\bar\alpha_t$.

# %%
x_first = x0[:1].flatten(1)
moments_df = plotting.forward_moments_frame(x_first, sched, [t for t in grid_times if t > 0], params.n_samples, gen)
glue_value("mean-path-error", float(moments_df["mean path error"].max()))
glue_value("var-rel-error", float(moments_df["var rel. error"].abs().max()))
glue_value("mean-z-max", float(moments_df["max |mean error| / s.e."].max()))
glue("tab-moments", moments_df.drop(columns="mean path error").style.format(precision=4).hide(axis="index"), display=False)

# %% [markdown]
# ```{glue:figure} tab-moments
# :name: tab-moments
#
# Step-by-step noising ({cite:t}`jo2025qamp` eq. 1, {glue:text}`n_samples` chains) against the closed form
# ({cite:t}`jo2025qamp` eq. 2) for one digit and the *{glue:text}`schedule`* schedule.
# ```
#
# The pooled variances agree with $1-\bar\alpha_t$ to a relative error of at most
# {glue:text}`var-rel-error:.2%`, and the largest standardized mean deviation is
# {glue:text}`mean-z-max:.2f`. The closed form is what makes training cheap: any $x_t$ costs
# one draw of $\epsilon$, not $t$ steps.
#
# ## The reverse process
#
# Generation runs the chain backwards with a learned Gaussian ({cite:t}`jo2025qamp` eq. 3)
#
# $$
# p_\theta(x_{t-1}\mid x_t) = \mathcal{N}\!\left(x_{t-1};\ \mu_\theta(x_t, t),\ \Sigma_\theta(x_t, t)\right).
# $$ (eq-reverse)
#
# The true reverse step $q(x_{t-1}\mid x_t)$ needs the whole data distribution, but given
# $x_0$ it is Gaussian and known in closed form (Ho et al., eqs. 6–7):
#
# $$
# q(x_{t-1}\mid x_t, x_0) = \mathcal{N}\!\left(x_{t-1};\ \tilde\mu_t(x_t, x_0),\ \tilde\beta_t\mathbf{I}\right),\quad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}x_0
# + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t,\quad
# \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t .
# $$ (eq-posterior)
#
# So the network only has to estimate $x_0$ (or, equivalently, the noise $\epsilon$) from
# $x_t$; the variance can be fixed to $\beta_t$ or $\tilde\beta_t$, which bracket the optimal
# choice. The two are nearly equal except in the first few steps.

# %%
t_all = torch.arange(1, params.T + 1)
zeros = torch.zeros(params.T, 1, dtype=torch.float64)
beta_tilde = diffusion.posterior_mean_variance(zeros, zeros, t_all, sched).variance[:, 0]
posterior_df = pd.concat(
    [
        pd.DataFrame({"t": t_all.numpy(), "quantity": "beta_t (forward)", "value": sched.betas.numpy()}),
        pd.DataFrame({"t": t_all.numpy(), "quantity": "beta_tilde_t (posterior)", "value": beta_tilde.numpy()}),
    ],
    ignore_index=True,
)
glue_figure("fig-posterior", plotting.plot_posterior(posterior_df), record_plain, posterior_df, figure_dir)

t_mid = max(2, params.T // 2)
x0_rep = x_first.expand(params.n_samples, -1).double()
x_prev = diffusion.q_sample(x0_rep, t_mid - 1, diffusion.gaussian_noise(tuple(x0_rep.shape), gen, torch.float64), sched)
x_t = diffusion.q_step(x_prev, t_mid, diffusion.gaussian_noise(tuple(x0_rep.shape), gen, torch.float64), sched)
post = diffusion.posterior_mean_variance(x0_rep, x_t, t_mid, sched)
residual = x_prev - post.mean
glue_value("t-mid", t_mid)
glue_value("post-var-ratio", float(residual.var(0).mean() / post.variance[0, 0]))
glue_value("post-corr", float(np.corrcoef(residual.flatten().numpy(), (x_t - x_t.mean(0)).flatten().numpy())[0, 1]))
oracle_eps = diffusion.predict_eps_from_x0(x_t, t_mid, x0_rep, sched)
glue_value("oracle-mean-error", float((diffusion.p_mean_variance(oracle_eps, x_t, t_mid, sched).mean - post.mean).abs().max()))

# %% [markdown]
# ```{glue:figure} fig-posterior
# :name: fig-posterior
#
# Forward variance $\beta_t$ and posterior variance $\tilde\beta_t$ of
# {eq}`eq-posterior` for the *{glue:text}`schedule`* schedule (left, log-log) and their ratio
# $\tilde\beta_t/\beta_t = (1-\bar\alpha_{t-1})/(1-\bar\alpha_t)$ (right). *Provenance:*
# {glue:text}`fig-posterior-note`
# ```
#
# A numerical check of {eq}`eq-posterior` at $t =$ {glue:text}`t-mid`: draw
# $x_{t-1}\sim q(x_{t-1}\mid x_0)$, then $x_t \sim q(x_t\mid x_{t-1})$, and look at the residual
# $x_{t-1} - \tilde\mu_t(x_t, x_0)$. If the posterior is right the residual has variance
# $\tilde\beta_t$ and is uncorrelated with $x_t$: the measured variance ratio is
# {glue:text}`post-var-ratio:.4f` and the correlation {glue:text}`post-corr:.1e`. And if a
# network predicted the noise perfectly, the DDPM reverse mean $\mu_\theta$ computed from that
# prediction would coincide with $\tilde\mu_t$: the largest difference is
# {glue:text}`oracle-mean-error:.1e`.
#
# ## The loss
#
# Training maximizes a variational lower bound on the log-likelihood ({cite:t}`jo2025qamp` eqs. 4–5):
#
# $$
# \mathcal{L} = \mathbb{E}_q\Big[\underbrace{D_{\mathrm{KL}}(q(x_T\mid x_0)\,\|\,p(x_T))}_{L_T}
# + \sum_{t>1}\underbrace{D_{\mathrm{KL}}(q(x_{t-1}\mid x_t,x_0)\,\|\,p_\theta(x_{t-1}\mid x_t))}_{L_{t-1}}
# \underbrace{-\log p_\theta(x_0\mid x_1)}_{L_0}\Big].
# $$ (eq-vlb)
#
# Each $L_{t-1}$ compares two Gaussians, and with the parameterization
# $\mu_\theta = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\epsilon_\theta(x_t,t)\big)$
# it reduces to a weighted squared error on the noise. Ho et al. drop the weights ({cite:t}`jo2025qamp` eq. 6):
#
# $$
# L_{\text{simple}}(\theta) = \mathbb{E}_{t,x_0,\epsilon}\Big[\big\|\epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}x_0
# + \sqrt{1-\bar\alpha_t}\epsilon,\ t\big)\big\|^2\Big].
# $$ (eq-lsimple)
#
# Two predictors bracket every learned one. Predicting $\epsilon_\theta = 0$ gives
# $L_{\text{simple}} = \mathbb{E}\|\epsilon\|^2 = 1$ per pixel: measured
# {glue:text}`lsimple-zero:.4f`. An oracle that knows $x_0$ inverts
# {eq}`eq-forward-closed` exactly: measured {glue:text}`lsimple-oracle:.1e`. A trained network
# sits in between, and it can only reach zero where $x_t$ determines $x_0$.

# %%
x0_batch = x0.repeat_interleave(max(1, params.n_samples // params.n_images), dim=0)
glue_value("lsimple-zero", float(diffusion.l_simple(lambda x_t, t: torch.zeros_like(x_t), x0_batch, sched, gen)))
glue_value(
    "lsimple-oracle",
    float(diffusion.l_simple(lambda x_t, t: diffusion.predict_eps_from_x0(x_t, t, x0_batch, sched), x0_batch, sched, gen)),
)

# %% [markdown]
# ## The quantum diffusion model
#
# A quantum diffusion model works with quantum states, described by density matrices $\rho$
# (Hermitian, positive semi-definite, unit trace) on $n$ qubits, $d = 2^n$. It destroys
# structure with quantum noise and learns to generate states back from the maximally mixed
# state $I/d$, the state of no information {cite:p}`zhang2024quddpm,parigi2023qndgdm`. Here
# $n =$ {glue:text}`n_qubits` and $d =$ {glue:text}`d`.
#
# ## Forward process: the depolarizing channel
#
# The standard choice is the depolarizing channel with probability $p_t$ ({cite:t}`jo2025qamp` eq. 7):
#
# $$
# \rho_t = \mathcal{E}_t(\rho_{t-1}) = (1-p_t)\,\rho_{t-1} + p_t\,\frac{I}{d}.
# $$ (eq-depolarize)
#
# Since $\mathcal{E}_t(I/d) = I/d$, the steps compose into ({cite:t}`jo2025qamp` eq. 8)
#
# $$
# \rho_t = \alpha_t\,\rho_0 + (1-\alpha_t)\,\frac{I}{d},\qquad \alpha_t = \prod_{s=1}^{t}(1-p_s).
# $$ (eq-depolarize-closed)
#
# (The seed's $\alpha_t$ here is a cumulative product, the analogue of $\bar\alpha_t$.) We take
# $p_t = \beta_t$ of the *{glue:text}`schedule`* schedule, so the quantum and classical processes
# share their clock: $\alpha_t = \bar\alpha_t$ exactly (largest difference
# {glue:text}`alpha-match:.1e`). Two initial states are followed: a Haar-random **pure** state
# $\rho_0 = |\psi\rangle\langle\psi|$ and a random full-rank **mixed** state (Hilbert–Schmidt
# measure). Running {eq}`eq-depolarize` step by step and evaluating {eq}`eq-depolarize-closed`
# give the same density matrices to {glue:text}`depol-closed-error:.1e` (largest entry
# difference over all $t$).

# %%
p_schedule = sched.betas
alpha = torch.cat([torch.ones(1, dtype=torch.float64), quantum.depolarizing_alpha(p_schedule)])
psi = quantum.random_pure_state(params.n_qubits, gen)
rho0 = {
    "pure": quantum.pure_density(psi),
    "mixed": quantum.random_density(params.n_qubits, gen),
}
trajectories = {}
for state, rho in rho0.items():
    trajectories[(state, "step by step (eq. 7)")] = quantum.depolarize_trajectory(rho, p_schedule)
    trajectories[(state, "closed form (eq. 8)")] = quantum.depolarize_closed_form(rho, alpha)
glue_value("d", 2**params.n_qubits)
glue_value("alpha-match", float((alpha[1:] - sched.alpha_bar).abs().max()))
glue_value(
    "depol-closed-error",
    max(float((trajectories[(s, "step by step (eq. 7)")] - trajectories[(s, "closed form (eq. 8)")]).abs().max()) for s in rho0),
)
glue_value("depol-valid", all(quantum.is_density(traj) for traj in trajectories.values()))
quantum_df = plotting.depolarizing_measures_frame(trajectories, rho0)
glue_figure("fig-depolarizing", plotting.plot_quantum_decay(quantum_df), record_plain, quantum_df, figure_dir)

# %% [markdown]
# ```{glue:figure} fig-depolarizing
# :name: fig-depolarizing
#
# Depolarizing a pure and a mixed state of {glue:text}`n_qubits` qubits with $p_t = \beta_t$:
# purity, fidelity to $\rho_0$, trace distance to $I/d$ and von Neumann entropy against $t$.
# Lines: step by step; markers: closed form. *Provenance:* {glue:text}`fig-depolarizing-note`
# ```
#
# Every state along both trajectories is a valid density matrix (checked: {glue:text}`depol-valid`).
# Equation {eq}`eq-depolarize-closed` also predicts each curve of the figure. With
# $P_0 = \operatorname{tr}\rho_0^2$,
#
# $$
# \operatorname{tr}\rho_t^2 = \alpha_t^2\Big(P_0 - \frac1d\Big) + \frac1d,\qquad
# T\big(\rho_t, \tfrac{I}{d}\big) = \alpha_t\, T\big(\rho_0, \tfrac{I}{d}\big),\qquad
# F\big(\rho_t, |\psi\rangle\langle\psi|\big) = \alpha_t + \frac{1-\alpha_t}{d}\ \text{(pure }\rho_0\text{)},
# $$
#
# where $T(\rho,\sigma) = \frac12\|\rho-\sigma\|_1$ is the trace distance and $F$ the fidelity
# of the next sections. The measured curves match these formulas to
# {glue:text}`measure-closed-error:.1e`. At $t = T$ the entropy reaches
# {glue:text}`entropy-T-mixed:.1%` of its maximum $n =$ {glue:text}`n_qubits` bits for the mixed
# state and {glue:text}`entropy-T-pure:.1%` for the pure one: the more of the schedule's signal
# is gone ($\alpha_T =$ {glue:text}`alpha-T:.2e`), the closer $\rho_T$ is to $I/d$.

# %%
step = quantum_df[quantum_df["method"] == "step by step (eq. 7)"].set_index(["state", "measure", "t"])["value"].sort_index()
a = alpha.numpy()
d = 2**params.n_qubits
mixed_state = quantum.maximally_mixed(params.n_qubits)
predicted = {
    (state, "purity"): closed.depolarized_purity(float(quantum.purity(rho)), a, d).numpy() for state, rho in rho0.items()
} | {
    (state, "trace distance to I/d"): closed.depolarized_trace_distance_to_mixed(
        float(quantum.trace_distance(rho, mixed_state)), a
    ).numpy()
    for state, rho in rho0.items()
} | {("pure", "fidelity to rho_0"): closed.depolarized_pure_fidelity(a, d).numpy()}
glue_value(
    "measure-closed-error", max(float(np.abs(step.loc[key].to_numpy() - value).max()) for key, value in predicted.items())
)
for state in rho0:
    glue_value(f"entropy-T-{state}", float(step.loc[(state, "entropy (bits)", params.T)]) / params.n_qubits)
glue_value("alpha-T", float(alpha[-1]))

# %% [markdown]
# ## Reverse process: why a unitary is not enough
#
# The seed's reverse step is a parameterized unitary, $\rho_{t-1} \approx U(\theta_t)\,\rho_t\,U^\dagger(\theta_t)$
# ({cite:t}`jo2025qamp` eq. 9). A unitary, however, leaves the spectrum of $\rho$ unchanged, and with it the
# purity and the von Neumann entropy $S(\rho) = -\operatorname{tr}\rho\log_2\rho$. Depolarizing
# raised the entropy, so no unitary on the system alone can undo it. What can is a unitary on
# the system **plus ancilla qubits**, followed by discarding (tracing out) the ancillas: the
# entropy is moved into the ancillas {cite:p}`nielsen2010qcqi`. This is why the quantum models of
# later chapters add ancilla qubits and measure or post-select them.
#
# The demonstration takes the depolarized pure state at $t =$ {glue:text}`t-half`, the first step
# at which $\alpha_t \le 1/2$ (or $t = T$ if the schedule never gets there), with entropy
# {glue:text}`S-rho:.4f` bits:
#
# - a Haar-random unitary on the system changes its entropy by {glue:text}`S-unitary-change:.1e`
#   and its purity by {glue:text}`purity-unitary-change:.1e`;
# - appending {glue:text}`n_qubits` ancillas in $|0\rangle$ and swapping them with the system
#   (a unitary on {glue:text}`n_joint` qubits, made of CNOTs) leaves the system in
#   $|0\dots0\rangle$: entropy {glue:text}`S-system-after:.1e` bits, purity
#   {glue:text}`purity-system-after:.6f`; the ancillas now carry
#   {glue:text}`S-ancilla-after:.4f` bits.
#
# Once the system is pure, one more system unitary can rotate it to any pure target. The swap is
# only the simplest example: a unitary on system and ancillas followed by discarding the
# ancillas can realise *any* quantum channel on the system (Stinespring dilation), and that is
# the freedom the ancilla-based denoisers of the later chapters learn to use.

# %%
t_half = min(params.T, int((alpha[1:] > 0.5).sum()) + 1)
rho_mid = trajectories[("pure", "step by step (eq. 7)")][t_half]
rho_rotated = quantum.apply_unitary(rho_mid, quantum.random_unitary(params.n_qubits, gen))
n_joint = 2 * params.n_qubits
system_after, ancilla_after = closed.swap_to_ancilla(rho_mid, params.n_qubits)
entropy_df = pd.DataFrame(
    {
        "state": [r"$\rho_t$", r"$U\rho_tU^\dagger$", "system after swap", "ancillas after swap"],
        "entropy (bits)": [float(quantum.von_neumann_entropy(r)) for r in (rho_mid, rho_rotated, system_after, ancilla_after)],
    }
)
S_rho = float(quantum.von_neumann_entropy(rho_mid))
glue_value("t-half", t_half)
glue_value("n_joint", n_joint)
glue_value("S-rho", S_rho)
glue_value("S-unitary-change", abs(float(quantum.von_neumann_entropy(rho_rotated)) - S_rho))
glue_value("purity-unitary-change", abs(float(quantum.purity(rho_rotated) - quantum.purity(rho_mid))))
glue_value("S-system-after", abs(float(quantum.von_neumann_entropy(system_after))))
glue_value("purity-system-after", float(quantum.purity(system_after)))
glue_value("S-ancilla-after", float(quantum.von_neumann_entropy(ancilla_after)))
fig = plotting.plot_bars(entropy_df, x="state", y="entropy (bits)", ylabel=r"entropy $S$ (bits)")
glue_figure("fig-entropy", fig, record_plain, entropy_df, figure_dir)

# %% [markdown]
# ```{glue:figure} fig-entropy
# :name: fig-entropy
#
# Von Neumann entropy of the depolarized pure state at $t =$ {glue:text}`t-half`, after a
# random system unitary, and of system and ancillas after a system–ancilla swap. *Provenance:*
# {glue:text}`fig-entropy-note`
# ```
#
# ## Loss: fidelity and trace distance
#
# Instead of a KL divergence, quantum models score a generated state against a target with a
# distance between states. For a pure target $|\psi\rangle$ the usual loss is the infidelity
# ({cite:t}`jo2025qamp` eq. 10)
#
# $$
# \mathcal{L}(\theta) = 1 - \mathbb{E}\big[\langle\psi|\,\rho_{\text{gen}}(\theta)\,|\psi\rangle\big],
# $$ (eq-infidelity)
#
# and for general states the Uhlmann fidelity
# $F(\rho,\sigma) = \big(\operatorname{tr}\sqrt{\sqrt\rho\,\sigma\sqrt\rho}\big)^2$ or the trace
# distance $T(\rho,\sigma)$. They are consistent: for a pure target the overlap in
# {eq}`eq-infidelity` *is* the Uhlmann fidelity (largest difference along the pure trajectory:
# {glue:text}`overlap-vs-fidelity:.1e`), and the two measures bound each other by the
# Fuchs–van de Graaf inequalities $1-\sqrt{F} \le T \le \sqrt{1-F}$ {cite:p}`nielsen2010qcqi`,
# which hold at every $t$ of both trajectories (checked: {glue:text}`fvdg-holds`; the smallest
# margin, {glue:text}`fvdg-margin:.1e`, is zero up to rounding: at $t = 0$ both sides vanish).

# %%
pure_traj = trajectories[("pure", "step by step (eq. 7)")]
glue_value(
    "overlap-vs-fidelity", float((quantum.pure_overlap(psi, pure_traj) - quantum.fidelity(pure_traj, rho0["pure"])).abs().max())
)
margins = []
for state, rho in rho0.items():
    traj = trajectories[(state, "step by step (eq. 7)")]
    margins += list(closed.fuchs_van_de_graaf_margins(quantum.fidelity(traj, rho), quantum.trace_distance(traj, rho)))
margin = float(torch.cat(margins).min())
glue_value("fvdg-holds", margin >= -1e-10)
glue_value("fvdg-margin", margin)

# %% [markdown]
# ## Summary
#
# - The Gaussian forward process has a closed form {eq}`eq-forward-closed`, checked here against
#   {glue:text}`T` explicit steps; the reverse step given $x_0$ is the Gaussian
#   {eq}`eq-posterior`, and $L_{\text{simple}}$ {eq}`eq-lsimple` trains a noise predictor for it.
# - The depolarizing channel {eq}`eq-depolarize` is the quantum analogue, with the same
#   closed-form structure {eq}`eq-depolarize-closed`; with $p_t = \beta_t$ both processes share
#   $\bar\alpha_t$.
# - Denoising a quantum state lowers its entropy, which a unitary cannot do: the reverse process
#   needs ancillas and measurement (or post-selection), as in the PQC models of
#   Cacioppo et al. {cite:p}`cacioppo2023qdm` treated later in the book.
