"""Integer helpers the families' tilings and mappings share."""

from __future__ import annotations


def ceil_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded up, for positive denominators (folds, tiles,
    blocks); in integers, as math.ceil(a / b) goes through a float and can be off for huge
    values."""
    return -(-numerator // denominator)
