"""Measure what a profile needs: training steps (``steps``) or the sampler (``sampler``) for one preset.

Writes ``<out>/<name>.csv`` and ``<name>.json`` (the provenance record: config, seed, data md5, commit):

    python scripts/measure_budget.py steps chen2025-classical --profile cpu --stages 250,500,1000 --samples 200
    python scripts/measure_budget.py sampler chen2025-classical --profile cpu --set train.steps=3000 \\
        --samplers ddim:50,ddim:250,ddpm:1000 --samples 200 --work /tmp/budget/chen2025-classical

``--work`` keeps the training checkpoint, so a ``sampler`` measurement after a ``steps`` one with the same
folder and step count trains nothing (the trainer resumes the checkpoint at its last step).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from qdm import provenance
from qdm.audits.budget import budget_curve, sampler_curve
from qdm.config import to_dict
from qdm.data import load_dataset
from qdm.io import atomic_write_text, write_json
from qdm.presets import resolve_config


def _pairs(text: str) -> list[tuple[str, int]]:
    out = []
    for item in text.split(","):
        name, _, steps = item.partition(":")
        if name not in ("ddim", "ddpm") or not steps.isdigit():
            raise ValueError(f"--samplers must be NAME:STEPS items with NAME ddim or ddpm, got {item!r}")
        out.append((name, int(steps)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("steps", "sampler"))
    p.add_argument("preset")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    p.add_argument("--stages", default="250,500,1000,1500,2000,3000", help="steps: training step counts")
    p.add_argument("--samplers", default="ddim:50,ddpm:1000", help="sampler: NAME:STEPS items")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--work", required=True, help="folder for the training checkpoint")
    p.add_argument("--out", default="ledger/measurements")
    p.add_argument("--name", default=None, help="output file stem (default budget[-sampler]-<preset>-<profile>)")
    args = p.parse_args(argv)
    try:
        cfg = resolve_config(args.preset, [f"profile={args.profile}", *args.set])
        torch.set_num_threads(1)
        if args.what == "steps":
            stages = [int(s) for s in args.stages.split(",")]
            frame = budget_curve(cfg, stages, args.samples, args.work)
            how = f"qdm.audits.budget.budget_curve(cfg, stages={stages}, n_samples={args.samples})"
            stem = args.name or f"budget-{args.preset}-{args.profile}"
        else:
            pairs = _pairs(args.samplers)
            frame = sampler_curve(cfg, pairs, args.samples, args.work)
            how = f"qdm.audits.budget.sampler_curve(cfg, samplers={pairs}, n_samples={args.samples})"
            stem = args.name or f"budget-sampler-{args.preset}-{args.profile}"
    except ValueError as err:
        print(f"measure_budget: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = load_dataset(cfg.data.dataset, cfg.data.split, data_dir=cfg.data.data_dir).source
    record = provenance.record(to_dict(cfg), cfg.train.seed, [source.file], producer=" ".join(sys.argv))
    record["measurement"] = (f"{how}; one seed, 1 torch thread; accuracy: the fraction of samples the classifier "
                             "gives the intended digit (score 'intended') or any trained digit (score 'in_classes')")
    atomic_write_text(out / f"{stem}.csv", frame.to_csv(index=False))
    write_json(out / f"{stem}.json", record)
    print(frame.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
