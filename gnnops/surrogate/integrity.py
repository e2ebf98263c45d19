"""One integrity digest over everything in a model artifact that changes a prediction.

The digest is a SHA-256 over a canonical serialization of

- the metadata (model name and constructor arguments, recipe, problem, training config,
  metrics, version -- everything in ``meta`` except the digest itself), as JSON with sorted
  keys and no whitespace, and
- every tensor of ``state_dict`` (the weights) and ``normalizers``, in name order, each as
  its name, dtype, shape and raw bytes,

every field prefixed by its length so that no two different artifacts serialize to the same
byte stream. It is stored in ``meta["integrity"]`` as ``"sha256:<hex>"``.

What it does and does not protect: an edit of any part (a shifted normalizer, a changed
recipe, a flipped weight bit) or a corrupt file no longer loads. It is a checksum, not a
signature: whoever writes a whole new artifact can compute a new digest, so an artifact
from someone you do not trust is still only as good as its author (see SECURITY.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["INTEGRITY_KEY", "content_digest", "canonical_meta"]

INTEGRITY_KEY = "integrity"
_DOMAIN = b"gnnops-artifact-integrity/1"


def canonical_meta(meta: Mapping[str, Any]) -> bytes:
    """The metadata minus its digest, as canonical JSON bytes (sorted keys, no spaces)."""
    rest = {k: v for k, v in meta.items() if k != INTEGRITY_KEY}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=True).encode("ascii")


def _field(h: Any, data: bytes) -> None:
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def content_digest(meta: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor],
                   normalizers: Mapping[str, torch.Tensor]) -> str:
    """``"sha256:<hex>"`` over ``meta`` (without its digest), the weights and the normalizers.

    Args:
        meta: the artifact metadata as stored (plain JSON values).
        state_dict: weights, name -> tensor (strided, on any device).
        normalizers: normalizer statistics, name -> tensor.
    """
    h = hashlib.sha256()
    _field(h, _DOMAIN)
    _field(h, canonical_meta(meta))
    for section, tensors in ((b"state_dict", state_dict), (b"normalizers", normalizers)):
        _field(h, section)
        _field(h, str(len(tensors)).encode())
        for name in sorted(tensors):
            t = tensors[name]
            _field(h, name.encode("utf-8", "surrogatepass"))
            _field(h, str(t.dtype).encode())
            _field(h, repr(tuple(t.shape)).encode())
            _field(h, _tensor_bytes(t))
    return "sha256:" + h.hexdigest()
