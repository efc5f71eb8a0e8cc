"""Interleaved timing: ratios of two candidates measured round by round in one process."""

import statistics
import time


def interleaved(candidates, rounds=7, repeats=5, warmup=2):
    """Times each candidate `repeats` times per round, alternating candidates every round.

    Args:
        candidates: dict name -> zero-argument callable (one unit of work; it
            must block until the work is done).

    Returns:
        dict name -> list of per-round mean seconds (one entry per round).
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            for _ in range(repeats):
                candidates[name]()
            times[name].append((time.perf_counter() - start) / repeats)
    return times


def ratio(times, numerator, denominator):
    """Median over rounds of the per-round ratio numerator/denominator."""
    return statistics.median(
        a / b for a, b in zip(times[numerator], times[denominator], strict=True)
    )


def table(rows, headers):
    """Formats rows as a GitHub markdown table."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda cells: (
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    )
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])
