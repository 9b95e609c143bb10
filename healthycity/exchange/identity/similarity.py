"""String similarity for comparing names: Jaro-Winkler and bounded edit distance.

Pure Python on purpose: the online matcher compares one record with a few candidates,
where calling out to a native library costs more than it saves, and the batch side
(Splink on DuckDB) uses DuckDB's own functions with the same definitions.
"""

from __future__ import annotations


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters, boost above 0.7)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(0, max(len(a), len(b)) // 2 - 1)
    a_flags = [False] * len(a)
    b_flags = [False] * len(b)
    matches = 0
    for i, char in enumerate(a):
        lo, hi = max(0, i - window), min(len(b), i + window + 1)
        for j in range(lo, hi):
            if not b_flags[j] and b[j] == char:
                a_flags[i] = b_flags[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    transpositions = 0
    k = 0
    for i, flagged in enumerate(a_flags):
        if flagged:
            while not b_flags[k]:
                k += 1
            if a[i] != b[k]:
                transpositions += 1
            k += 1
    m = float(matches)
    # Half-transpositions are rounded down, as DuckDB (and so Splink's batch side) does.
    jaro = (m / len(a) + m / len(b) + (m - transpositions // 2) / m) / 3
    if jaro <= 0.7:
        return jaro
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def levenshtein(a: str, b: str, limit: int) -> int:
    """Edit distance, stopping early once it exceeds ``limit`` (returns limit + 1)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        best = i
        for j, y in enumerate(b, 1):
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            current.append(value)
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)
