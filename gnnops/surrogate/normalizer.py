"""Per-column mean / standard deviation, fitted by streaming over the training graphs.

Chunks are merged with Chan et al.'s parallel update (``mean``, ``M2`` = sum of
squared deviations, ``count``) in float64, which stays accurate for large offsets
(e.g. coordinates near 1e6) where the textbook ``E[x^2] - E[x]^2`` loses every digit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from gnnops.errors import DataError

__all__ = ["Normalizer", "fit_normalizer", "uncentered"]


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


def uncentered(norms: dict[str, Tensor], prefix: str,
               columns: Sequence[int]) -> dict[str, Tensor]:
    """Normalizers whose given columns are scaled but not shifted.

    Column ``c`` gets mean 0 and, as scale, its root mean square
    ``sqrt(std_c^2 + mean_c^2)`` (the statistics of the same data about 0). A model that is
    linear and homogeneous in those columns (e.g. in the state of a one-step model) then
    stays so in physical units: ``(u - 0) / s`` is homogeneous in ``u``, ``(u - m) / s``
    is not.

    Args:
        norms: normalizers ``{prefix.mean: [F], prefix.std: [F], ...}`` (not modified).
        prefix: ``"x"`` (inputs) or ``"y"`` (targets).
        columns: indices of the columns to re-centre.

    Returns:
        A copy of ``norms`` with those columns re-centred.

    Raises:
        DataError: a column index outside ``[0, F)``.
    """
    out = {k: v.clone() for k, v in norms.items()}
    mean, std = out[f"{prefix}.mean"], out[f"{prefix}.std"]
    cols = sorted({int(c) for c in columns})
    if any(c < 0 or c >= mean.numel() for c in cols):
        raise DataError(f"expected column indices in [0, {mean.numel()}) to re-centre "
                        f"(got {cols})")
    if cols:
        idx = torch.tensor(cols)
        rms = torch.sqrt(std[idx] ** 2 + mean[idx] ** 2).clamp_min(1e-12)
        mean[idx], std[idx] = 0.0, rms
    return out
