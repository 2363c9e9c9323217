"""qdm.audits.lowdata: the study's grid as typed values, and its statistics (paired t-interval and test against scipy,
Holm on a textbook example, d_z), the hypothesis table on runs where it holds and where it is reversed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qdm.audits import lowdata as ld
from qdm.presets import CHEN2025_VARIANTS, resolve_config

# ----------------------------------------------------------------------------------- the design


def test_the_design_meets_the_issue_and_counts_its_runs() -> None:
    d = ld.DESIGN
    assert ld.grid_problems(d) == []
    assert d.sizes == (8, 16, 32, 64, 128, 512, None) and d.digits == (0, 6) and d.variants == CHEN2025_VARIANTS
    assert [d.n_seeds(n) for n in d.sizes] == [5, 5, 5, 5, 3, 3, 3]
    assert d.seeds_for(64) == (0, 1, 2, 3, 4) and d.seeds_for(128) == (0, 1, 2) and d.seeds_for(None) == (0, 1, 2)
    # 4 variants x 2 digits x (4 sizes x 5 seeds + 3 sizes x 3 seeds) + ablations 2 variants x 2 arms x (5 + 3) seeds
    assert len(d.main_cells()) == 56 and len(d.ablation_cells()) == 8
    assert d.n_runs() == 4 * 2 * (4 * 5 + 3 * 3) + 2 * 2 * (5 + 3) == 264
    assert {(c.size, c.variant, c.arm) for c in d.ablation_cells()} == {
        (n, v, a) for n in (64, None) for v in ("chen2025", "chen2025-classical") for a in ("quantum-noise", "tailored")}
    assert ld.HYPOTHESIS.startswith("for N < 100") and "paired by seed" in ld.HYPOTHESIS


def test_a_smaller_grid_is_found_wanting_and_restricting_keeps_the_values_of_the_design() -> None:
    thin = ld.DESIGN.restrict(sizes=[8, 16, 128], digits=[0], variants=["chen2025", "chen2025-classical"], seeds=[0, 1])
    problems = " | ".join(ld.grid_problems(thin))
    for needle in ("only 2 sizes below 100", "only 1 sizes at or above 100", "digit 0 and at least one more",
                   "all four", "N = 8 runs 2 seeds (at least 5)", "N = 128 runs 2 seeds (at least 3)"):
        assert needle in problems
    assert thin.ablation_cells() == ()  # neither 64 nor all is in this grid
    assert {c for c in thin.cells()} <= set(ld.DESIGN.cells())
    with pytest.raises(ValueError, match=r"sizes must be distinct values of \[8, 16, 32, 64, 128, 512, None\]"):
        ld.DESIGN.restrict(sizes=[8, 10])
    with pytest.raises(ValueError, match="digits must be distinct values of"):
        ld.DESIGN.restrict(digits=[1])
    with pytest.raises(ValueError, match="seeds must be distinct ints >= 0"):
        ld.DESIGN.restrict(seeds=[0, 0])
    with pytest.raises(ValueError, match="sizes must hold ints >= 1 or None"):
        ld.LowDataDesign(sizes=(0, 8))


def test_cells_resolve_to_nested_draws_of_the_seed_and_back() -> None:
    for cell in (ld.Cell("chen2025", 6, 16), ld.Cell("chen2025-classical", 0, None, "tailored"),
                 ld.Cell("chen2025", 0, 64, "quantum-noise")):
        overrides = [o.replace("{seed}", "3") for o in cell.overrides()]
        cfg = resolve_config(cell.variant, ["profile=smoke", *overrides, "train.seed=3"])
        assert cfg.data.subset_draw == "nested" and cfg.data.subset_seed == cfg.train.seed == 3
        assert cfg.data.images_per_class == cell.size and cfg.data.classes == (cell.digit,)
        assert ld.cell_of(cfg) == (cell, 3)
    with pytest.raises(ValueError, match="not a run of the low-data grid"):
        ld.cell_of(resolve_config("koelle2024", ["profile=smoke"]))


# ----------------------------------------------------------------------------------- statistics


def test_holm_on_the_textbook_example() -> None:
    # The worked example of the Holm-Bonferroni method (e.g. Wikipedia's): four hypotheses, alpha = 0.05,
    # p = 0.01, 0.04, 0.03, 0.005: H4 (0.005 < 0.05/4) and H1 (0.01 < 0.05/3) are rejected, then 0.03 > 0.05/2 stops.
    adjusted = ld.holm_adjust([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)
    assert [p <= 0.05 for p in adjusted] == [True, False, False, True]
    # NaN = untested: kept, and not counted in m
    out = ld.holm_adjust([0.01, math.nan, 0.04])
    assert out[0] == 0.02 and math.isnan(out[1]) and out[2] == 0.04
    assert ld.holm_adjust([0.6, 0.9]) == [1.0, 1.0]  # capped at 1 and monotone
    with pytest.raises(ValueError, match=r"pvalues must lie in \[0, 1\]"):
        ld.holm_adjust([1.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_interval_test_and_effect_size_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.30, 0.02, size=5)
    b = a + rng.normal(0.01, 0.015, size=5)
    result = ld.compare_paired(dict(enumerate(a)), dict(enumerate(b)))
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert result.seeds == (0, 1, 2, 3, 4)
    np.testing.assert_allclose(result.mean, np.mean(a - b), rtol=1e-12)
    np.testing.assert_allclose([result.ci_low, result.ci_high], [ci.low, ci.high], rtol=1e-10)
    np.testing.assert_allclose(result.p, ref.pvalue, rtol=1e-10)
    np.testing.assert_allclose(result.d_z, ref.statistic / math.sqrt(5), rtol=1e-10)  # d_z = t / sqrt(n)


def test_pairing_is_by_seed_and_degenerate_cases() -> None:
    seeds, diffs = ld.paired_differences({0: 1.0, 1: 2.0, 3: 5.0, 4: math.nan}, {1: 1.5, 0: 0.5, 2: 9.0, 4: 1.0})
    assert seeds == (0, 1) and diffs.tolist() == [0.5, 0.5]
    one = ld.compare_paired({0: 1.0}, {0: 2.0})
    assert one.n == 1 and all(math.isnan(v) for v in (one.ci_low, one.p, one.d_z))
    flat = ld.compare_paired({0: 1.0, 1: 2.0}, {0: 2.0, 1: 3.0})  # every difference -1
    assert flat.p == 0.0 and flat.d_z == -math.inf
    assert ld.paired_t_pvalue([0.0, 0.0]) == 1.0


# ----------------------------------------------------------------------------------- the hypothesis table


def _runs(shift: float, seeds: int = 5, sd: float = 0.004) -> pd.DataFrame:
    """Synthetic runs of the grid's baseline cells: quantum variants' KID and FID = their twin's + shift (+ noise),
    each seed with its own level shared by both members of the pair."""
    rng = np.random.default_rng(7)
    rows = []
    for digit in ld.DESIGN.digits:
        for size in ld.DESIGN.sizes:
            for seed in range(seeds if size is not None and size <= 64 else 3):
                level = 0.3 + 0.05 * rng.standard_normal()
                for comp in ld.COMPARISONS:
                    for variant, delta in ((comp.twin, 0.0), (comp.quantum, shift + sd * rng.standard_normal())):
                        rows.append({"variant": variant, "digit": digit, "size": np.nan if size is None else size,
                                     "arm": "baseline", "seed": seed, "kid": level + delta,
                                     "fid": 200 * (level + delta), "kid_se": 0.002})
    return pd.DataFrame(rows)


def test_the_hypothesis_holds_where_the_quantum_kid_is_lower() -> None:
    table = ld.hypothesis_table(_runs(shift=-0.05))
    tested = table[table.tested]
    assert len(tested) == 2 * 2 * 2 * 4  # comparisons x metrics x digits x N < 100
    assert (tested.result == "quantum better (supports)").all()
    assert (tested.mean_diff < 0).all() and (tested.ci_high < 0).all() and (tested.d_z < 0).all()
    assert (tested.p_holm >= tested.p).all() and (tested.p_holm <= 0.05).all()
    large = table[~table.hypothesis]
    assert large.p_holm.isna().all() and (large.result == "descriptive (N >= 100, not in the test)").all()
    text = ld.verdict_text(table)
    assert "8 of 8 tested cells support the hypothesis" in text and "reverses" not in text
    assert "lower (better) for the quantum variant at digit 0 N = 8" in text


def test_a_reversed_effect_is_reported_with_its_sign() -> None:
    table = ld.hypothesis_table(_runs(shift=+0.05))
    tested = table[table.tested]
    assert (tested.result == "quantum worse (reverses)").all() and (tested.d_z > 0).all()
    assert "0 of 8 tested cells support" in ld.verdict_text(table)
    assert "higher (worse) for the quantum variant" in ld.verdict_text(table)


def test_no_effect_missing_cells_and_the_summary() -> None:
    runs = _runs(shift=0.0, sd=0.01)
    runs = runs[~((runs.digit == 6) & (runs["size"] == 8) & (runs.variant == "chen2025"))]  # a cell not run
    table = ld.hypothesis_table(runs)
    gone = table[(table.digit == 6) & (table.N == "8") & table.comparison.str.startswith("chen2025 ")]
    assert (gone.pairs == 0).all() and (gone.result == "not tested (fewer than two seed pairs)").all()
    assert "not testable" in ld.verdict_text(table)
    summary = ld.summary_table(runs)
    kid = summary[(summary.metric == "kid") & (summary.variant == "chen2025-classical") & (summary.digit == 0)]
    assert kid.N.tolist() == ["8", "16", "32", "64", "128", "512", "all"] and kid.seeds.tolist() == [5] * 4 + [3] * 3
    assert np.allclose(kid.mean_se, 0.002) and (kid.ci_low < kid["mean"]).all()
    with pytest.raises(ValueError, match="runs must have the columns"):
        ld.hypothesis_table(runs.drop(columns="arm"))


def test_the_ablation_table_pairs_each_arm_with_its_baseline() -> None:
    rows = []
    for size in (64, np.nan):
        for seed in range(5 if size == 64 else 3):
            for variant in ("chen2025", "chen2025-classical"):
                for arm, kid in (("baseline", 0.30), ("quantum-noise", 0.25), ("tailored", 0.30)):
                    rows.append({"variant": variant, "digit": 0, "size": size, "arm": arm, "seed": seed,
                                 "kid": kid + 0.01 * seed + (0.001 * seed if arm == "tailored" else 0.0)})
    table = ld.ablation_table(pd.DataFrame(rows), metrics=["kid"])
    assert len(table) == 2 * 2 * 2
    noise = table[table.arm == "quantum-noise"]
    assert np.allclose(noise.mean_diff, -0.05) and (noise.p < 1e-10).all() and (noise.d_z < -1e3).all()
    tailored = table[table.arm == "tailored"]
    assert np.allclose(tailored.mean_diff, [0.002, 0.002, 0.001, 0.001])  # 0.001 x seed: 5 seeds at 64, 3 at all
    assert (tailored.p_holm > 0.05).all() and (noise.p_holm <= 0.05).all()  # a small effect is not shown after Holm
    assert (table.p_holm >= table.p).all() and set(table.N) == {"64", "all"}


def test_published_points_are_the_readme_fids_at_all_images() -> None:
    points = ld.published_points()
    assert points.set_index("variant")["value"].to_dict() == {"chen2025": 259.25, "chen2025-classical": 271.05}
    assert set(points.metric) == {"fid"} and points["size"].isna().all()
