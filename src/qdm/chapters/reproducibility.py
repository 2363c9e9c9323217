"""The reproducibility chapter (``notebooks/95_reproducibility.py``): what each chapter's runs cost, and what the
results ledger (:mod:`qdm.ledger`) holds.

* :func:`chapter_costs`: per chapter of :data:`qdm.chapters.jobs.CHAPTER_JOBS` and profile, the ``qdm reproduce``
  command, the number of runs, how many of them are in the ledger and what those cost as measured (the
  training, sampling and evaluation seconds of their ``timing.json``, summed, with the machine of their
  ``provenance.json``); for the runs not in the ledger an estimate from the entries of the same preset and
  profile where there are any, and otherwise a count of runs *not measured* (never a number made up);
* :func:`ledger_table`: one row per entry (experiment, preset@profile, overrides, seed, config hash, date and
  commit of the run, machine, seconds) and :func:`ledger_bytes`, the ledger's size on disk;
* :func:`stale_table`: the stale entries (:func:`qdm.ledger.stale_entries`) by name.

Nothing here trains or times anything; every number is read from the ledger's files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from qdm import ledger, provenance
from qdm.chapters.common import parse_list
from qdm.chapters.jobs import CHAPTER_JOBS, chapter_jobs, n_runs
from qdm.config import config_hash
from qdm.families import PROFILE_NAMES
from qdm.validation import check_choice, check_int

__all__ = [
    "COST_KEYS",
    "chapter_cost_view",
    "chapter_costs",
    "checkout_commit",
    "command",
    "cost_summary",
    "cost_text",
    "entry_machine",
    "entry_seconds",
    "ledger_bytes",
    "ledger_dir",
    "ledger_table",
    "ledger_view",
    "parse_profiles",
    "parse_seeds",
    "plot_entry_costs",
    "stale_line",
    "stale_table",
]

#: What a run costs, as ``timing.json`` records it: training (all sessions, if resumed), sampling, evaluation.
COST_KEYS: dict[str, tuple[str, ...]] = {
    "train_s": ("train_total_wall_s", "train_wall_s"),
    "sample_s": ("sample_wall_s",),
    "eval_s": ("eval_wall_s",),
}


def ledger_dir(value: str) -> Path:
    """The ledger to read: ``""`` is :func:`qdm.ledger.ledger_root` (``$QDM_LEDGER_DIR``, else ``<repo>/ledger``)."""
    if not isinstance(value, str):
        raise ValueError(f"ledger_dir must be a path string ('' for the committed ledger), got {value!r}")
    root = Path(value).expanduser().resolve() if value else ledger.ledger_root()
    if root is None:
        raise ValueError("ledger_dir: '' names no ledger (QDM_LEDGER_DIR is off and there is no <repo>/ledger); pass one")
    if not root.is_dir():
        raise ValueError(f"ledger_dir must be a ledger folder, got {str(root)!r}, which is not a directory")
    return root


def parse_profiles(value: str) -> tuple[str, ...]:
    """The notebook's ``profiles``: comma-separated names of :data:`qdm.families.PROFILE_NAMES`."""
    items = parse_list("profiles", value)
    for item in items:
        if item not in PROFILE_NAMES:
            raise ValueError(f"profiles must name profiles among {', '.join(PROFILE_NAMES)}, got {item!r}")
    return items


def parse_seeds(value: str) -> tuple[int, ...]:
    """The notebook's ``seeds``: comma-separated distinct integers >= 0 (``"0,1,2"``)."""
    items = parse_list("seeds", value)
    if not all(item.isdigit() for item in items):
        raise ValueError(f"seeds must be comma-separated integers >= 0, got {value!r}")
    return tuple(int(item) for item in items)


def command(chapter: str, profile: str, seeds: Sequence[int]) -> str:
    """The command that runs a chapter's jobs and admits them into the ledger."""
    return f"qdm reproduce {chapter} --profile {profile} --seeds {','.join(str(s) for s in seeds)} --admit"


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def entry_seconds(entry: ledger.LedgerEntry) -> dict[str, float]:
    """Training, sampling and evaluation wall seconds of an entry (``timing.json``; NaN where it records none)."""
    timing = _json(entry.path / "timing.json")
    out = {}
    for name, keys in COST_KEYS.items():
        found = [timing[k] for k in keys if isinstance(timing.get(k), (int, float))]
        out[name] = float(found[0]) if found else math.nan
    return out


def entry_machine(entry: ledger.LedgerEntry) -> str:
    """Where an entry ran (``provenance.json``): device (and GPU), torch threads, platform."""
    prov = _json(entry.path / "provenance.json")
    if not prov:
        return "not recorded"
    device = prov.get("device") or "?"
    if prov.get("gpu"):
        device += f" ({prov['gpu']})"
    platform = (prov.get("record") or {}).get("platform") or "platform not recorded"
    return f"{device}, {prov.get('torch_threads', '?')} torch thread(s), {platform}"


def _short(git: dict[str, Any]) -> str:
    """A git state as 12 hex digits, '+dirty' for a modified tree, or 'not recorded'."""
    if not git.get("commit"):
        return "not recorded"
    return git["commit"][:12] + ("+dirty" if git.get("dirty") else "")


def checkout_commit() -> str:
    """The commit of the checkout building the book (:func:`qdm.provenance.git_state`), as :func:`_short` writes it."""
    return _short(provenance.git_state())


def _run_commit(entry: ledger.LedgerEntry) -> str:
    """The commit the run was made at (``provenance.json``), 12 hex digits, '+dirty' for a modified tree."""
    return _short((_json(entry.path / "provenance.json").get("record") or {}).get("git") or {})


def _made_as(entry: ledger.LedgerEntry) -> str:
    made = entry.made_by
    return f"{made['preset']}@{made.get('profile') or '?'}" if made.get("preset") else "not recorded"


def ledger_table(root: Path) -> pd.DataFrame:
    """One row per ledger entry: what it is, when and where it ran, what it cost (seconds) and its size in bytes."""
    rows = []
    for entry in ledger.entries(root):
        config = _json(entry.path / "config.json")
        rows.append({
            "experiment": entry.experiment,
            "made_as": _made_as(entry),
            "overrides": " ".join(entry.made_by.get("overrides", [])) or "none",
            "seed": (config.get("train") or {}).get("seed"),
            "config_hash": entry.config_hash,
            "date": _json(entry.path / "timing.json").get("finished") or "not recorded",
            "commit": _run_commit(entry),
            "machine": entry_machine(entry),
            **entry_seconds(entry),
            "bytes": sum(p.stat().st_size for p in entry.path.rglob("*") if p.is_file()),
        })
    columns = ["experiment", "made_as", "overrides", "seed", "config_hash", "date", "commit", "machine",
               *COST_KEYS, "bytes"]
    return pd.DataFrame(rows, columns=columns)


def ledger_bytes(root: Path) -> int:
    """Size of every file under the ledger folder (entries and measurements), in bytes."""
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())


def _total(seconds: dict[str, float]) -> float:
    return float(sum(seconds.values()))


def chapter_costs(
    root: Path, profiles: Sequence[str], seeds: Sequence[int], chapters: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per chapter and profile: command, runs, runs in the ledger and their measured seconds, and for the others an
    estimate from the ledger's entries of the same preset and profile (the mean of their totals per run), or the
    number of runs that nothing measured. A profile a chapter's presets do not define gives a row saying so."""
    for p in profiles:
        check_choice(p, "profiles", PROFILE_NAMES)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    for s in seeds:
        check_int(s, "seeds", 0)
    chapters = sorted(CHAPTER_JOBS) if chapters is None else list(chapters)
    for c in chapters:
        check_choice(c, "chapters", sorted(CHAPTER_JOBS))
    found = ledger.entries(root)
    by_key = {(e.experiment, e.config_hash): e for e in found}
    rows = []
    for chapter in chapters:
        for profile in profiles:
            row: dict[str, Any] = {"chapter": chapter, "profile": profile, "command": command(chapter, profile, seeds),
                                   "runs": n_runs(chapter, seeds)}
            try:
                jobs = chapter_jobs(chapter, profile, seeds)
            except ValueError as err:
                rows.append({**row, "in_ledger": 0, "measured_s": math.nan, "missing": row["runs"],
                             "estimated_s": math.nan, "estimated_runs": 0, "not_measured": row["runs"],
                             "machine": "", "note": f"profile {profile!r} does not resolve: {err}"})
                continue
            measured, estimated, machines = [], [], []
            not_measured = 0
            for job, _seed, cfg in jobs:
                entry = by_key.get((cfg.experiment, config_hash(cfg)))
                if entry is not None:
                    measured.append(_total(entry_seconds(entry)))
                    machines.append(entry_machine(entry))
                    continue
                peers = [e for e in found if e.made_by.get("preset") == job.preset and e.made_by.get("profile") == profile]
                totals = [_total(entry_seconds(e)) for e in peers]
                totals = [t for t in totals if math.isfinite(t)]
                if totals:
                    estimated.append(sum(totals) / len(totals))
                    machines += [entry_machine(e) for e in peers]
                else:
                    not_measured += 1
            rows.append({
                **row, "in_ledger": len(measured), "measured_s": float(sum(measured)) if measured else math.nan,
                "missing": len(jobs) - len(measured), "estimated_s": float(sum(estimated)) if estimated else math.nan,
                "estimated_runs": len(estimated), "not_measured": not_measured,
                "machine": "; ".join(dict.fromkeys(machines)), "note": "",
            })
    return pd.DataFrame(rows)


def cost_text(seconds: float, runs: int) -> str:
    """Seconds over ``runs`` runs as text ("2.4 h for 12 runs"); "not measured" for NaN, "none" for zero runs."""
    if runs == 0:
        return "none"
    if not math.isfinite(seconds):
        return f"not measured ({runs} runs)"
    unit = (seconds / 3600, "h") if seconds >= 3600 else (seconds / 60, "min") if seconds >= 60 else (seconds, "s")
    return f"{unit[0]:.1f} {unit[1]} for {runs} run{'s' if runs != 1 else ''}"


def cost_summary(costs: pd.DataFrame) -> dict[str, str | int]:
    """Totals over :func:`chapter_costs`' rows, as glued: runs, runs in the ledger and estimated or not measured, and
    the measured and estimated seconds as text."""
    measured = costs.measured_s.dropna().sum()
    estimated = costs.estimated_s.dropna().sum()
    in_ledger, n_estimated = int(costs.in_ledger.sum()), int(costs.estimated_runs.sum())
    return {
        "runs-total": int(costs.runs.sum()), "runs-in-ledger": in_ledger, "runs-estimated": n_estimated,
        "runs-not-measured": int(costs.not_measured.sum()),
        "measured-total": cost_text(float(measured), in_ledger), "estimated-total": cost_text(float(estimated), n_estimated),
    }


def chapter_cost_view(costs: pd.DataFrame) -> pd.DataFrame:
    """:func:`chapter_costs` as the book shows it: costs as text, a note where a profile does not resolve."""
    rows = []
    for r in costs.itertuples(index=False):
        rows.append({
            "chapter": r.chapter, "profile": r.profile, "command": r.command, "runs": r.runs,
            "in ledger": r.in_ledger, "measured": cost_text(r.measured_s, r.in_ledger),
            "estimate for the rest": ("none missing" if not r.missing else
                                      cost_text(r.estimated_s, r.estimated_runs) if r.estimated_runs else "not measured"),
            "not measured": r.not_measured, "machine": r.machine or "n/a", "note": r.note or "",
        })
    return pd.DataFrame(rows)


def ledger_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`ledger_table` as the book shows it: seconds rounded to 0.1, NaN as "not recorded"."""
    view = table.copy()
    for name in COST_KEYS:
        view[name] = [f"{v:.1f}" if math.isfinite(v) else "not recorded" for v in view[name]]
    return view


def stale_table(root: Path) -> pd.DataFrame:
    """The stale entries by name: entry, what made it, and the hash its preset and profile resolve to now."""
    rows = [{"entry": f"{e.experiment}/{e.config_hash}", "made_as": _made_as(e), "now_resolves_to": now}
            for e, now in ledger.stale_entries(root)]
    return pd.DataFrame(rows, columns=["entry", "made_as", "now_resolves_to"])


def stale_line(stale: pd.DataFrame) -> str:
    """One sentence naming the stale entries of :func:`stale_table`, or saying there are none."""
    if stale.empty:
        return "The ledger has no stale entry: every entry's preset and profile still resolve to its config hash."
    names = ", ".join(f"{r.entry} ({r.made_as}, now {r.now_resolves_to})" for r in stale.itertuples(index=False))
    return f"Stale: {names}."


def plot_entry_costs(table: pd.DataFrame) -> Any:
    """Horizontal stacked bars: each ledger entry's training, sampling and evaluation minutes (from :func:`ledger_table`).

    An entry whose timing is not recorded gets no bar (its row says "not recorded"); an empty ledger gives a
    figure that says so.
    """
    import matplotlib.pyplot as plt

    missing = [k for k in ("experiment", "made_as", "seed", *COST_KEYS) if k not in table.columns]
    if missing:
        raise ValueError(f"table must be a ledger_table frame; it lacks the columns {missing}")
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * max(len(table), 2) + 1.2))
    if table.empty:
        ax.text(0.5, 0.5, "the ledger holds no entries", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    labels = [f"{r.made_as} {r.overrides if r.overrides != 'none' else ''} seed {r.seed}".replace("  ", " ")
              for r in table.itertuples()]
    left = [0.0] * len(table)
    for key, name in (("train_s", "training"), ("sample_s", "sampling"), ("eval_s", "evaluation")):
        minutes = [float(v) / 60 if isinstance(v, (int, float)) and math.isfinite(float(v)) else 0.0 for v in table[key]]
        ax.barh(labels, minutes, left=left, label=name)
        left = [a + b for a, b in zip(left, minutes, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("minutes (as recorded in timing.json)")
    ax.legend(loc="lower right", fontsize="small")
    ax.tick_params(axis="y", labelsize="x-small")
    fig.tight_layout()
    return fig
