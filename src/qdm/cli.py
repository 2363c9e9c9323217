"""The ``qdm`` command: run experiments, list what is registered, show a resolved config.

::

    qdm run <experiment> [key=value ...] [--results DIR] [--force] [--quiet] [--workers N] [--seeds 0,1,2]
                                         [--engine local|dask|ray] [--address ADDR]
    qdm reproduce <chapter|all> [--profile book] [--seeds 0,1,2] [--set KEY=VALUE] [--workers N] [--admit] [--list]
    qdm ledger list|stale
    qdm ledger admit RUN_DIR... --preset NAME --profile NAME [--override KEY=VALUE]
    qdm list
    qdm show <experiment> [key=value ...] [--results DIR]
    qdm audit chen2025 [--seeds 0,1,2] [--profile smoke|cpu|paper] [--dataset mnist|pathmnist] [--workers N]
                       [--set data.classes=6] [--set data.images_per_class=null]
    qdm audit presets [--profile paper] [--backends torch,pennylane] [--time-steps 2]
    qdm audit estimator-bias [--out ledger/measurements] [--cache DIR]

``preset=<name>`` and ``profile=<smoke|cpu|paper>`` are resolved before the other overrides
(:func:`qdm.presets.resolve_config`).

Overrides use leaf names (``steps=100``) or dotted paths (``model.n_qubits=4``); values are parsed by the
field's type.  A bad experiment name, key or value prints one line ``qdm: error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from qdm.config import (
    EXPERIMENTS,
    PRESETS,
    ExperimentConfig,
    apply_overrides,
    config_hash,
    get_experiment,
    list_experiments,
    list_presets,
    to_json,
)
import qdm.presets  # noqa: F401 - registers the families, experiments and presets
from qdm.families import FAMILIES, load_plugins

__all__ = ["build_parser", "main", "parse_seeds"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: At most this many seeds per command (a larger range is almost surely a typo, and each seed is a run).
MAX_SEEDS = 1000


class _UsageError(Exception):
    """A bad command line (unknown experiment, key or value)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become a one-line message and exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> (0, 1, 2); also ``"0-4"`` for a range (ValueError naming --seeds otherwise)."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = (int(x) for x in part.split("-", 1))
                span = range(lo, hi + 1)
            else:
                span = range(int(part), int(part) + 1)
        except ValueError:
            raise ValueError(f"--seeds must be comma-separated ints or ranges like 0-4, got {text!r}") from None
        if len(seeds) + len(span) > MAX_SEEDS:
            raise ValueError(f"--seeds names more than {MAX_SEEDS} seeds (each is a run), got {text!r}")
        seeds.extend(span)
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds must name at least one seed >= 0, got {text!r}")
    return tuple(dict.fromkeys(seeds))


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``qdm`` command."""
    parser = _Parser(prog="qdm", description="Quantum diffusion models: run experiments and inspect configs.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of failures (also QDM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="train, sample and evaluate an experiment (reusing finished runs)")
    run.add_argument("experiment", help="a registered experiment or preset (see `qdm list`)")
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    run.add_argument("--results", default="results", help="results root folder (default: results)")
    run.add_argument("--force", action="store_true", help="delete and redo a finished run")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    run.add_argument("--seeds", default=None, help="run once per seed, e.g. 0,1,2 or 0-4 (sets train.seed)")
    run.add_argument("--engine", choices=("local", "dask", "ray"), default="local", help="where jobs run")
    run.add_argument("--address", default=None, help="Dask scheduler / Ray cluster address (engine dask|ray)")
    audit = sub.add_parser("audit", help="chen2025: the four variants x seeds under both metric protocols; "
                           "presets: parameter counts and step times of every preset; "
                           "estimator-bias: the FID/KID bias measurements of the audit chapter")
    audit.add_argument("target", choices=("chen2025", "presets", "estimator-bias"),
                       help="chen2025 (the four Chen et al. 2025 variants), presets (costs of every preset) or "
                       "estimator-bias (FID/KID against n and the quantum-classical gap, into ledger/measurements)")
    audit.add_argument("--cache", default=None,
                       help="estimator-bias: Inception feature cache folder (default <results>/features)")
    audit.add_argument("--seeds", default="0,1,2", help="seeds, e.g. 0,1,2 or 0-4 (default 0,1,2)")
    audit.add_argument("--profile", default=None,
                       help="preset profile: smoke, cpu, book or paper (default: smoke for chen2025, paper for presets)")
    audit.add_argument("--dataset", choices=("mnist", "pathmnist"), default="mnist", help="MNIST digit 0 or PathMNIST class 1")
    audit.add_argument("--results", default="results", help="results root folder (default: results)")
    audit.add_argument("--out", default=None, help="report folder (default <results>/audit/chen2025-<dataset>-<profile>)")
    audit.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    audit.add_argument("--engine", choices=("local", "dask", "ray"), default="local", help="where jobs run")
    audit.add_argument("--address", default=None, help="Dask scheduler / Ray cluster address (engine dask|ray)")
    audit.add_argument("--time-steps", type=int, default=2, help="training steps timed per circuit backend (0: no timing)")
    audit.add_argument("--backends", default="torch,pennylane", help="circuit backends to time (default torch,pennylane)")
    audit.add_argument("--qdm-images", type=int, default=None,
                       help="score the qdm protocol on the first N samples of each run "
                       "(default: all; the protocol asks for >= 1000)")
    audit.add_argument("--bias-pool", choices=("heldout", "train"), default="heldout",
                       help="real images of the estimator-bias table: the held-out set (free) or 2·max(n) training images")
    audit.add_argument("--set", dest="audit_overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override for every variant, repeatable: --set data.classes=6, --set data.images_per_class=null")
    rep = sub.add_parser("reproduce", help="run every job a chapter of the book needs (finished ones are reused)")
    rep.add_argument("chapter", help="a chapter of qdm.chapters.jobs (pqc, hybrid, pathmnist, ano, lowdata) or all")
    rep.add_argument("--profile", default="book", help="preset profile (default: book)")
    rep.add_argument("--seeds", default="0,1,2",
                     help="seeds, e.g. 0,1,2 or 0-4 (default 0,1,2); a job with its own seed count takes the first ones")
    rep.add_argument("--set", dest="reproduce_overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override for every run after the job's own, repeatable (recorded in the ledger entry)")
    rep.add_argument("--only", action="append", default=[], metavar="TERM",
                     help="only the runs whose preset or one of whose overrides is TERM, repeatable; terms of one "
                          "key are alternatives (--only data.classes=0 --only data.classes=1 --only chen2025)")
    rep.add_argument("--results", default="results", help="results root folder (default: results)")
    rep.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    rep.add_argument("--engine", choices=("local", "dask", "ray"), default="local", help="where jobs run")
    rep.add_argument("--address", default=None, help="Dask scheduler / Ray cluster address (engine dask|ray)")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.add_argument("--admit", action="store_true", help="move finished runs into the ledger after checking them")
    rep.add_argument("--list", action="store_true", help="print the jobs and their run folders; run nothing")
    led = sub.add_parser("ledger", help="the committed results ledger: list entries, find stale ones, admit runs")
    led.add_argument("action", choices=("list", "stale", "admit"))
    led.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="finished run folders to admit")
    led.add_argument("--preset", default=None, help="admit: the preset the runs were made from")
    led.add_argument("--profile", default=None, help="admit: the profile the runs were made at")
    led.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="admit: overrides used")
    sub.add_parser("list", help="list experiments, families and presets")
    show = sub.add_parser("show", help="print the resolved config, its hash and its results folder")
    show.add_argument("experiment")
    show.add_argument("overrides", nargs="*", metavar="key=value")
    show.add_argument("--results", default="results", help="results root folder (default: results)")
    return parser


def _resolve(name: str, overrides: Sequence[str]) -> ExperimentConfig:
    """The named experiment/preset, then ``preset=`` / ``profile=`` (qdm.presets.resolve_config), then the other overrides."""
    try:
        from qdm.presets import resolve_config
    except ModuleNotFoundError as err:
        if err.name != "qdm.presets":
            raise
        return apply_overrides(get_experiment(name), list(overrides))
    return resolve_config(name, list(overrides))


def _describe_entry(factory: object) -> str:
    """``family=... [experiment=...]`` of a registered factory, or the error it raises."""
    try:
        cfg = factory()  # type: ignore[operator]
    except Exception as err:  # noqa: BLE001 - a broken entry is shown, not fatal to the listing
        return f"ERROR {type(err).__name__}: {_first_line(err)}"
    return f"experiment={cfg.experiment} family={cfg.family}"


def _cmd_list() -> int:
    """Print experiments, families and presets (plugin modules that fail to import are reported on stderr)."""
    for module, error in load_plugins(strict=False).items():
        print(f"qdm: warning: plugin {module} failed to import: {error}", file=sys.stderr)
    print("experiments:")
    for name in list_experiments():
        print(f"  {name:<28} {_describe_entry(EXPERIMENTS[name])}")
    print("families:")
    for name in sorted(FAMILIES):
        doc = (FAMILIES[name].model_config_cls.__doc__ or "").strip().splitlines()
        print(f"  {name:<28} {doc[0] if doc else ''}")
    print("presets:")
    for name in list_presets():
        print(f"  {name:<28} {_describe_entry(PRESETS[name])}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    """Print the resolved config as JSON, then its hash and results folder."""
    from qdm.families import get_family
    from qdm.runner import run_dir_for

    cfg = _resolve(args.experiment, args.overrides)
    print(to_json(cfg))
    family = get_family(cfg.family)
    if family.describe is not None:
        print(family.describe(cfg))
    print(f"hash: {config_hash(cfg)}")
    print(f"results: {run_dir_for(cfg, args.results)}")
    return 0


def _check_results(value: str) -> str:
    """``--results`` must name a folder (an empty value would write into the current directory)."""
    if not value.strip():
        raise ValueError("--results must name a folder, got an empty value")
    return value


def _interrupted_note(cfgs: Sequence[ExperimentConfig], results: str) -> str:
    """What an interrupted ``qdm run`` leaves: the checkpoints (and their steps) a re-run of the same command resumes."""
    from qdm.runner import run_dir_for
    from qdm.train import CHECKPOINT_NAME, load_checkpoint

    kept = []
    for cfg in cfgs:
        path = run_dir_for(cfg, results) / CHECKPOINT_NAME
        if path.is_file():
            try:
                kept.append(f"{path} (step {int(load_checkpoint(path)['step'])})")
            except ValueError:
                kept.append(f"{path} (unreadable)")
    if not kept:
        return "qdm: interrupted before any checkpoint was written; nothing to resume"
    where = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
    return f"qdm: interrupted; re-run the same command to resume from {where}"


def _cmd_run(args: argparse.Namespace) -> int:
    """Run one config, or one per seed, and print one line per job; exit 1 if any job failed."""
    from qdm.runner import run_many

    cfg = _resolve(args.experiment, args.overrides)
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    _check_results(args.results)
    cfgs = [cfg] if args.seeds is None else [apply_overrides(cfg, [f"train.seed={s}"]) for s in parse_seeds(args.seeds)]
    try:
        outcomes = run_many(
            cfgs,
            workers=args.workers,
            engine=args.engine,
            address=args.address,
            results_root=args.results,
            force=args.force,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print(_interrupted_note(cfgs, args.results), file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = 0
    for cfg_i, out in zip(cfgs, outcomes, strict=True):
        if out.ok:
            shown = {k: v for k, v in out.metrics.items() if isinstance(v, float)}
            summary = " ".join(f"{k}={v:.4g}" for k, v in sorted(shown.items()))
            state = "reused" if out.reused else "done"
            print(f"{state:<6} seed={cfg_i.train.seed} {out.run_dir} {summary}".rstrip())
        else:
            failed += 1
            print(f"FAILED seed={cfg_i.train.seed} {out.run_dir}: {out.error}", file=sys.stderr)
    return 1 if failed else 0


def _ledger_root() -> Path:
    """The ledger folder to write into: $QDM_LEDGER_DIR, else <repo>/ledger (created)."""
    from qdm import ledger
    from qdm.provenance import repo_root

    root = ledger.ledger_root()
    if root is None:
        repo = repo_root()
        if repo is None:
            raise ValueError("no ledger folder: set QDM_LEDGER_DIR to one")
        root = repo / "ledger"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _cmd_reproduce(args: argparse.Namespace) -> int:
    """Run a chapter's jobs (qdm.chapters.jobs) and, with --admit, move the finished local runs into the ledger."""
    from qdm import ledger
    from qdm.chapters.jobs import chapter_jobs, select_jobs
    from qdm.runner import run_dir_for, run_many

    _check_results(args.results)
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    extra = list(args.reproduce_overrides)
    jobs = select_jobs(chapter_jobs(args.chapter, args.profile, parse_seeds(args.seeds), extra), args.only)
    if args.list:
        for job, seed, cfg in jobs:
            shown = " ".join([*job.overrides_for(seed), *extra])
            print(f"{job.preset} {shown} seed={seed} -> {run_dir_for(cfg, args.results)}".replace("  ", " "))
        return 0
    root = _ledger_root() if args.admit else None
    outcomes = run_many([cfg for _, _, cfg in jobs], workers=args.workers, engine=args.engine, address=args.address,
                        results_root=args.results, progress=not args.quiet)
    failed = 0
    for (job, seed, cfg), out in zip(jobs, outcomes, strict=True):
        if not out.ok:
            failed += 1
            print(f"FAILED {job.preset} seed={seed} {out.run_dir}: {out.error}", file=sys.stderr)
            continue
        where = out.run_dir
        if root is not None and not Path(out.run_dir).resolve().is_relative_to(root.resolve()):  # not served from it
            made_by = {"preset": job.preset, "profile": args.profile,
                       "overrides": [*job.overrides_for(seed), *extra, f"train.seed={seed}"], "chapter": args.chapter}
            where = str(ledger.admit(out.run_dir, made_by, root=root).path)
        print(f"{'reused' if out.reused else 'done':<6} {job.preset} seed={seed} {where}")
    return 1 if failed else 0


def _cmd_ledger(args: argparse.Namespace) -> int:
    """List the ledger, list its stale entries (exit 1 if any), or admit finished run folders."""
    from qdm import ledger

    if args.action == "admit":
        if not args.run_dirs or args.preset is None or args.profile is None:
            raise ValueError("ledger admit needs RUN_DIR... --preset NAME --profile NAME")
        root = _ledger_root()
        for run_dir in args.run_dirs:
            made_by = {"preset": args.preset, "profile": args.profile, "overrides": list(args.override)}
            print(f"admitted {ledger.admit(run_dir, made_by, root=root).path}")
        return 0
    if args.action == "stale":
        stale = ledger.stale_entries()
        for entry, now in stale:
            print(f"stale {entry.experiment}/{entry.config_hash}: {entry.made_by} now resolves to {now}")
        return 1 if stale else 0
    for entry in ledger.entries():
        m = entry.made_by
        print(f"{entry.experiment}/{entry.config_hash} {m.get('preset')}@{m.get('profile')} {' '.join(m.get('overrides', []))} "
              f"admitted {m.get('admitted')} commit {str(m.get('commit'))[:10]}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    """Run qdm.audits.chen2025.audit_chen2025 and print the markdown report's path and summary table (exit 1 if a run failed)."""
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    _check_results(args.results)
    if args.time_steps < 0:
        raise ValueError(f"--time-steps must be >= 0, got {args.time_steps}")
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip()) if args.time_steps else ()
    bad = [b for b in backends if b not in ("torch", "pennylane")]
    if bad:
        raise ValueError(f"--backends must list torch and/or pennylane, got {bad}")
    if args.profile is None:
        args.profile = "paper" if args.target == "presets" else "smoke"
    if args.target == "presets":
        return _cmd_preset_costs(args, backends)
    if args.target == "estimator-bias":
        return _cmd_estimator_bias(args)
    try:
        report = _run_audit(args, backends)
    except RuntimeError as err:
        print(f"qdm: error: {_first_line(err)}", file=sys.stderr)
        return 1
    print(report.paths["markdown"].read_text())
    print(f"written: {', '.join(str(p) for p in report.paths.values())}")
    return 0


def _cmd_preset_costs(args: argparse.Namespace, backends: tuple[str, ...]) -> int:
    """Write <results>/audit/presets/costs.csv and .md (qdm.audits.costs.preset_costs) and print the table."""
    from qdm.audits.costs import preset_costs

    table = preset_costs(backends=backends or ("torch",), n_steps=max(args.time_steps, 1), profile=args.profile)
    out = Path(args.out) if args.out else Path(args.results) / "audit" / "presets"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "costs.csv", index=False)
    text = table.to_markdown(index=False, floatfmt=".3g")
    (out / "costs.md").write_text(f"# Preset costs (profile {args.profile}, {torch_threads()} torch threads)\n\n{text}\n")
    print(text)
    print(f"written: {out / 'costs.csv'}, {out / 'costs.md'}")
    return 0


def _cmd_estimator_bias(args: argparse.Namespace) -> int:
    """Write the estimator-bias measurements (qdm.audits.estimator_bias) into --out (default <ledger>/measurements)."""
    from qdm.audits.estimator_bias import measure_estimator_bias

    out = Path(args.out) if args.out else _ledger_root() / "measurements"
    cache = Path(args.cache) if args.cache else Path(args.results) / "features"
    paths = measure_estimator_bias(out, cache)
    print(f"written: {', '.join(str(p) for p in paths.values())} (and their .json records)")
    return 0


def torch_threads() -> int:
    """torch's intra-op thread count (recorded next to timings)."""
    import torch

    return torch.get_num_threads()


def _run_audit(args: argparse.Namespace, backends: tuple[str, ...]):  # AuditReport, imported lazily
    """audit_chen2025 with the command line's settings."""
    from qdm.audits.chen2025 import audit_chen2025

    return audit_chen2025(
        seeds=parse_seeds(args.seeds),
        profile=args.profile,
        dataset=args.dataset,
        results_root=args.results,
        out_dir=args.out,
        workers=args.workers,
        engine=args.engine,
        address=args.address,
        time_backends=backends,
        time_steps=max(args.time_steps, 1),
        progress=False,
        overrides=tuple(args.audit_overrides),
        bias_pool=args.bias_pool,
        qdm_images=args.qdm_images,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qdm`` console script; returns the exit status (2 for a bad command line)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("QDM_DEBUG", "") not in ("", "0")
    try:
        args, extra = parser.parse_known_args(argv)
        # argparse stops filling ``overrides`` at the first option; key=value words after it come back here.
        stray = [e for e in extra if e.startswith("-") or "=" not in e or not hasattr(args, "overrides")]
        if stray:
            raise _UsageError(f"unrecognized arguments: {' '.join(stray)}")
        if extra:
            args.overrides = [*args.overrides, *extra]
        if args.command == "list":
            return _cmd_list()
        if args.command == "show":
            return _cmd_show(args)
        if args.command == "audit":
            return _cmd_audit(args)
        if args.command == "reproduce":
            return _cmd_reproduce(args)
        if args.command == "ledger":
            return _cmd_ledger(args)
        return _cmd_run(args)
    except (_UsageError, ValueError) as err:
        _report(err, debug)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qdm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - every failure is one line; the traceback only with --debug
        _report(err, debug, hint=True)
        return 1


def _report(err: BaseException, debug: bool, hint: bool = False) -> None:
    """One line ``qdm: error: ...`` on stderr (with the traceback first under --debug)."""
    if debug:
        traceback.print_exception(err)
    name = "" if isinstance(err, (_UsageError, ValueError)) else f"{type(err).__name__}: "
    more = " (run with --debug for the traceback)" if hint and not debug else ""
    print(f"qdm: error: {name}{_first_line(err)}{more}", file=sys.stderr)


def _first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name if empty)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
