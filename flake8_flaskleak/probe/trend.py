"""Growth as a trend over several batches, not one difference.

A value sampled after each batch (memory, threads, descriptors, loggers...) grows when the
least-squares slope over the batches is above a floor, it rose in every interval, and it still
climbs in the second half: a single jump (a cache filling once, a pool opening its
connections), a bounded sawtooth or noise that goes up and down does not count, a steady
climb does. Counts of things left behind after a request
(connections, sessions, contexts) are exact, so they need no trend: they are rates.
"""

from __future__ import annotations

from collections.abc import Sequence

RISING_SHARE = 1.0  # every interval must rise: bounded sawtooths (caches, weakref lists
# cleaned every N objects) drop somewhere in a long enough window, leaks never do


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0 for fewer than two points)."""
    count = len(xs)
    if count < 2:
        return 0.0
    mean_x = sum(xs) / count
    mean_y = sum(ys) / count
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def rising_share(ys: Sequence[float], tolerance: float = 0.0) -> float:
    steps = [later - earlier for earlier, later in zip(ys, ys[1:])]
    if not steps:
        return 0.0
    return sum(1 for step in steps if step > tolerance) / len(steps)


def per_thousand(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The slope as growth per 1,000 requests."""
    return slope(xs, ys) * 1000


def grows(xs: Sequence[float], ys: Sequence[float], floor_per_thousand: float) -> bool:
    """A steady climb: slope above the floor, rising in most intervals, up overall, and
    still climbing in the second half (something filling up to a bound flattens out)."""
    if len(ys) < 3:
        return False
    half = len(ys) // 2
    return (
        per_thousand(xs, ys) >= floor_per_thousand
        and per_thousand(xs[half:], ys[half:]) >= floor_per_thousand / 2
        and rising_share(ys) >= RISING_SHARE
        and ys[-1] > ys[0]
    )
