"""zoo.bench.stats: intervals, IQM, target hits and verdicts against cases worked out here
independently (by hand, by our own numpy resampling, by the normal approximation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoo.bench.stats import (MIN_PAIRED, bootstrap_interval, iqm, mean_interval, resolve,
                             seed_statistics, student_t_interval, target_hits)


@pytest.mark.parametrize("value", [0.9, 0.0, 1.0])
def test_a_constant_sample_has_an_interval_of_no_width(value):
    assert bootstrap_interval([value] * 4) == (value, value)


@pytest.mark.parametrize("values", [[], [0.9], [0.9, math.nan], [None, 0.8]])
def test_under_two_values_there_is_no_interval(values):
    assert bootstrap_interval(values) is None


def test_the_interval_is_the_percentile_bootstrap_of_the_mean():
    # Skewed by one broken seed, so that the percentile interval (low end far out) differs
    # from the "basic" one (high end far out) by 0.06.
    sample = [0.50, 0.88, 0.89, 0.90, 0.91, 0.92]
    # Our own resampling, with another generator and many more resamples: the 2.5th and
    # 97.5th percentiles of the means of samples drawn with replacement.
    rng = np.random.default_rng(12345)
    means = np.asarray(sample)[rng.integers(0, len(sample), (400_000, len(sample)))].mean(axis=1)
    expected = np.percentile(means, [2.5, 97.5])
    low, high = bootstrap_interval(sample)
    assert low == pytest.approx(expected[0], abs=0.003) and high == pytest.approx(expected[1], abs=0.003)
    assert low < np.mean(sample) < high


def test_a_large_normal_sample_matches_the_normal_approximation():
    sample = np.random.default_rng(7).normal(0.9, 0.02, 400)
    half = 1.959964 * sample.std(ddof=1) / math.sqrt(len(sample))  # 95% z interval
    low, high = bootstrap_interval(sample)
    assert low == pytest.approx(sample.mean() - half, abs=0.1 * half)
    assert high == pytest.approx(sample.mean() + half, abs=0.1 * half)


def test_the_t_interval_of_three_seeds_worked_by_hand():
    # mean 0.85, sd 0.05, standard error 0.05 / sqrt(3) = 0.0288675; t(0.975, 2 df) = 4.302653
    half = 4.302653 * 0.05 / math.sqrt(3)
    low, high = student_t_interval([0.80, 0.90, 0.85])
    assert low == pytest.approx(0.85 - half, abs=1e-6) and high == pytest.approx(0.85 + half, abs=1e-6)
    assert student_t_interval([0.7] * 3) == (0.7, 0.7) and student_t_interval([0.7]) is None


def test_with_three_seeds_the_interval_shown_is_the_t_interval():
    # The percentile bootstrap of three values can only span them (0.80..0.90); t knows
    # better, and mean_interval shows the wider.
    sample = [0.80, 0.90, 0.85]
    boot, student = bootstrap_interval(sample), student_t_interval(sample)
    assert student[0] < 0.80 <= boot[0] and boot[1] <= 0.90 < student[1]
    assert mean_interval(sample) == student


def test_a_skewed_sample_keeps_the_bootstrap_end_where_it_is_wider():
    # 40 seeds, two of them broken: t is symmetric, the bootstrap reaches further down.
    sample = [0.9 + 0.001 * (i % 7) for i in range(38)] + [0.2, 0.25]
    boot, student = bootstrap_interval(sample), student_t_interval(sample)
    assert boot[0] < student[0]
    low, high = mean_interval(sample)
    assert low == boot[0] and high == max(boot[1], student[1])


def test_an_accuracy_interval_stays_within_0_and_1():
    assert student_t_interval([0.99, 1.0, 0.95])[1] > 1.0
    low, high = mean_interval([0.99, 1.0, 0.95])
    assert high == 1.0 and low == student_t_interval([0.99, 1.0, 0.95])[0]


def test_the_leaderboard_pair_the_bootstrap_alone_called_resolved_is_not():
    # benchmarks/RESULTS.md "leaderboard", first run (seeds 0, 1, 2): squeezenet1_0 over
    # shufflenet_v2_x0_5 looked resolved by the bootstrap intervals alone, and the second run
    # (seeds 1000..) ranked them the other way round.
    squeeze = {0: 0.6111, 1: 0.6928, 2: 0.6578}
    shuffle = {0: 0.5344, 1: 0.5617, 2: 0.5528}
    assert bootstrap_interval(squeeze.values())[0] > bootstrap_interval(shuffle.values())[1]
    assert resolve(squeeze, shuffle).text == "not resolved with n=3"


def test_the_same_rows_give_the_same_interval_in_any_order():
    sample = [0.71, 0.74, 0.69, 0.80, 0.77]
    assert bootstrap_interval(sample) == bootstrap_interval(list(reversed(sample)))
    assert bootstrap_interval(sample) == bootstrap_interval(sorted(sample))


def test_iqm_of_hand_worked_samples():
    # n=8: a quarter is 2 values each side; the middle four 0.6 0.7 0.8 0.9 average 0.75,
    # and the outlier 5.0 (a broken seed) does not pull it.
    assert iqm([5.0, 0.1, 0.9, 0.5, 0.6, 0.95, 0.7, 0.8]) == pytest.approx(0.75)
    # n=5: floor(5/4) = 1 each side: mean(2, 3, 4) = 3.
    assert iqm([100, 1, 3, 2, 4]) == pytest.approx(3.0)
    assert iqm([1, 2, 3, 4]) is None  # under five seeds: no IQM


def test_hit_rate_line_and_median_counting_misses_as_never():
    hits = target_hits([12.0, None, 8.0, 10.0, None], 0.9)
    # sorted with the misses as infinity: 8 10 [12] inf inf
    assert hits.line() == "3/5 reached 0.9" and hits.median == 12.0
    few = target_hits([5.0, None, None], 0.9)
    assert few.line() == "1/3 reached 0.9" and few.median is None  # 5 inf [inf]
    assert target_hits([], 0.5).line() == "0/0 reached 0.5"


def test_intervals_apart_are_resolved():
    verdict = resolve({0: 0.90, 1: 0.91, 2: 0.92}, {0: 0.70, 1: 0.71, 2: 0.72})
    assert verdict.resolved and verdict.text == "resolved (95% intervals apart)"


def test_overlapping_intervals_with_few_seeds_are_not_resolved():
    verdict = resolve({0: 0.90, 1: 0.80, 2: 0.85}, {0: 0.88, 1: 0.79, 2: 0.86})
    assert not verdict.resolved and verdict.text == "not resolved with n=3"
    assert resolve({0: 0.9}, {0: 0.8}).text == "not resolved with n=1"
    assert resolve({0: 0.9, 1: 0.8}, {0: 0.8}).text == "not resolved with n=2 and 1"


def test_a_consistent_paired_difference_is_resolved_by_wilcoxon():
    # Seeds vary a lot (the intervals overlap) but b is 0.01 above a on every one of 8
    # seeds: the exact two-sided signed-rank p is 2 / 2**8 = 0.0078125.
    a = {seed: 0.6 + 0.04 * seed for seed in range(8)}
    b = {seed: value + 0.01 * (1 + seed % 3) for seed, value in a.items()}
    assert bootstrap_interval(a.values())[1] > bootstrap_interval(b.values())[0]
    verdict = resolve(a, b)
    assert verdict.resolved and verdict.p_value == pytest.approx(2 / 2 ** 8)
    assert verdict.text == "resolved (paired Wilcoxon p=0.008 over 8 seeds)"


def test_a_paired_difference_of_both_signs_is_not_resolved():
    a = {seed: 0.6 + 0.04 * seed for seed in range(8)}
    b = {seed: value + (0.01 if seed % 2 else -0.012) for seed, value in a.items()}
    verdict = resolve(a, b)
    assert not verdict.resolved and verdict.p_value > 0.05  # ranks 1-4 up, 5-8 down
    assert verdict.text.startswith("not resolved with n=8 (paired Wilcoxon p=")


def test_paired_test_needs_enough_shared_seeds():
    a = {seed: 0.6 + 0.04 * seed for seed in range(MIN_PAIRED - 1)}
    b = {seed: value + 0.01 for seed, value in a.items()}
    assert not resolve(a, b).resolved  # 2 / 2**5 = 0.0625 could never pass 0.05 anyway


def test_seed_statistics_of_a_combination():
    rows = [{"seed": s, "val_acc": v, "test_acc": v - 0.01, "target_acc": 0.85,
             "time_to_target": t} for s, v, t in [(0, 0.9, 10.0), (1, 0.8, None), (2, 0.88, 14.0)]]
    stats = seed_statistics(rows)
    assert stats["val_acc_by_seed"] == {0: 0.9, 1: 0.8, 2: 0.88}
    assert (stats["val_acc_ci_low"], stats["val_acc_ci_high"]) == mean_interval([0.9, 0.8, 0.88])
    assert stats["val_acc_iqm"] is None
    assert stats["target_line"] == "2/3 reached 0.85" and stats["time_to_target_median"] == 14.0
