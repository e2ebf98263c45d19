"""Per-column mean / standard deviation, fitted by streaming over the training graphs.

Chunks are merged with Chan et al.'s parallel update (``mean``, ``M2`` = sum of
squared deviations, ``count``) in float64, which stays accurate for large offsets
(e.g. coordinates near 1e6) where the textbook ``E[x^2] - E[x]^2`` loses every digit.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from gnnops.errors import DataError

__all__ = ["Normalizer", "fit_normalizer"]


class Normalizer:
    """Streaming per-column statistics of ``[n, F]`` chunks.

    Attributes:
        count: rows seen.
        mean: [F] float64 running mean.
        m2: [F] float64 running sum of squared deviations.
    """

    def __init__(self, num_columns: int) -> None:
        self.count = 0
        self.mean = torch.zeros(num_columns, dtype=torch.float64)
        self.m2 = torch.zeros(num_columns, dtype=torch.float64)

    def update(self, x: Tensor) -> None:
        """Merge a chunk ``x: [n, F]`` into the statistics."""
        x = x.detach().to("cpu", torch.float64).reshape(x.shape[0], -1)
        if x.shape[1] != self.mean.numel():
            raise DataError(f"expected a chunk of shape [n, {self.mean.numel()}] "
                            f"(got {list(x.shape)})")
        n = x.shape[0]
        if n == 0:
            return
        mean_b = x.mean(dim=0)
        m2_b = ((x - mean_b) ** 2).sum(dim=0)
        total = self.count + n
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n / total)
        self.count = total

    def std(self, *, eps: float = 1e-8) -> Tensor:
        """[F] population standard deviation; constant columns get 1 (no rescaling)."""
        s = torch.sqrt(self.m2 / max(self.count, 1))
        tiny = s <= eps * (1.0 + self.mean.abs())
        return torch.where(tiny, torch.ones_like(s), s)

    def state(self, prefix: str) -> dict[str, Tensor]:
        """``{prefix.mean: [F], prefix.std: [F]}`` as float32 (artifact normalizers)."""
        if self.count == 0:
            raise DataError(f"normalizer '{prefix}' was fitted on no rows")
        return {f"{prefix}.mean": self.mean.float(), f"{prefix}.std": self.std().float()}


def fit_normalizer(chunks: Iterable[Tensor], num_columns: int) -> Normalizer:
    """Fit a :class:`Normalizer` on an iterable of ``[n_i, F]`` chunks (one pass)."""
    norm = Normalizer(num_columns)
    for chunk in chunks:
        norm.update(chunk)
    return norm
