"""scaling.estimate: the widening lookback and the survivor-bias correction, on plain values."""

from __future__ import annotations

from queue_autoscaler.scaling.estimate import NO_RUNNING_JOBS, RunningJobs, count_running_jobs, widen_lookback
from queue_autoscaler.scaling.target import DurationStats


class Completions:
    """``stats_for``: the completions of the last N minutes, from a table of windows; records the asks."""

    def __init__(self, by_minutes: dict[int, DurationStats | None]) -> None:
        self.by_minutes = by_minutes
        self.asked: list[int] = []

    def __call__(self, minutes: int) -> DurationStats | None:
        self.asked.append(minutes)
        return self.by_minutes.get(minutes)


def samples(n: int) -> DurationStats:
    return DurationStats(samples=n, mean_s=10.0)


# ------------------------------------------------------------------ widen_lookback


def test_enough_completions_in_the_first_window_need_no_wider_one() -> None:
    completions = Completions({10: samples(30)})
    assert widen_lookback(completions, 10, 120, 30) == (10, samples(30))
    assert completions.asked == [10]


def test_the_window_doubles_until_it_holds_enough() -> None:
    # 10 -> 20 -> 40: 29 completions are not enough, 30 are
    completions = Completions({10: None, 20: samples(29), 40: samples(30)})
    assert widen_lookback(completions, 10, 120, 30) == (40, samples(30))
    assert completions.asked == [10, 20, 40]


def test_the_widest_window_is_capped_and_returned_even_when_short() -> None:
    # 10, 20, 40, 80, then 160 capped at 120; still short: the widest window's statistics
    completions = Completions({minutes: samples(minutes // 10) for minutes in (10, 20, 40, 80, 120)})
    assert widen_lookback(completions, 10, 120, 30) == (120, samples(12))
    assert completions.asked == [10, 20, 40, 80, 120]


def test_a_first_window_at_the_maximum_is_asked_once() -> None:
    completions = Completions({})
    assert widen_lookback(completions, 15, 15, 30) == (15, None)
    assert completions.asked == [15]


# ------------------------------------------------------------------ count_running_jobs


def test_running_jobs_add_their_elapsed_time_to_the_mean() -> None:
    # Given 10 completions of mean 30 s (tail 100 s) and 2 jobs that have run 3,600 s between them
    measured = DurationStats(samples=10, mean_s=30.0, tail_s=100.0, max_s=120.0)
    # Then the mean is (30 x 10 + 3600) / 10 = 390 s, and the tail at least that
    assert count_running_jobs(measured, RunningJobs(2, 3600.0)) == DurationStats(
        samples=10, mean_s=390.0, tail_s=390.0, max_s=120.0
    )


def test_a_tail_above_the_corrected_mean_is_kept() -> None:
    # (30 x 10 + 600) / 10 = 90 s < the 100 s tail
    measured = DurationStats(samples=10, mean_s=30.0, tail_s=100.0)
    assert count_running_jobs(measured, RunningJobs(1, 600.0)) == DurationStats(
        samples=10, mean_s=90.0, tail_s=100.0, max_s=None
    )


def test_without_a_percentile_the_corrected_mean_is_the_tail() -> None:
    # (20 x 4 + 40) / 4 = 30 s
    measured = DurationStats(samples=4, mean_s=20.0)
    assert count_running_jobs(measured, RunningJobs(1, 40.0)) == DurationStats(4, 30.0, tail_s=30.0)


def test_nothing_to_correct_returns_the_measurement_itself() -> None:
    measured = DurationStats(samples=10, mean_s=30.0)
    assert count_running_jobs(measured, NO_RUNNING_JOBS) is measured
    assert count_running_jobs(measured, RunningJobs(0, 500.0)) is measured  # no job, no time
    assert count_running_jobs(measured, RunningJobs(3, 0.0)) is measured  # jobs just started
    assert count_running_jobs(None, RunningJobs(3, 500.0)) is None
    no_samples = DurationStats(samples=0, mean_s=30.0)
    assert count_running_jobs(no_samples, RunningJobs(3, 500.0)) is no_samples


def test_no_running_jobs_is_zero_of_both() -> None:
    assert RunningJobs(0, 0.0) == NO_RUNNING_JOBS


def test_one_completion_is_corrected_too() -> None:
    # (40 x 1 + 20) / 1 = 60 s
    assert count_running_jobs(DurationStats(1, 40.0), RunningJobs(1, 20.0)) == DurationStats(
        1, 60.0, tail_s=60.0
    )


def test_a_corrected_mean_under_one_second_is_its_own_tail() -> None:
    # (0.2 x 10 + 3) / 10 = 0.5 s
    corrected = count_running_jobs(DurationStats(10, 0.2), RunningJobs(3, 3.0))
    assert corrected == DurationStats(10, 0.5, tail_s=0.5)
