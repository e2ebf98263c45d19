"""Validation of a model artifact from a stranger, before anything large is allocated.

``load_artifact`` runs these in order; each raises :class:`~gnnops.errors.ArtifactError`
naming the file, what was expected and what arrived:

1. :func:`check_archive` -- before ``torch.load``: the file is a zip archive (a mesh or
   network file given by mistake is named as such), its entries are stored uncompressed
   (``torch.save`` never compresses, so a deflated entry can only be a decompression bomb)
   and no entry declares more bytes than the file holds.
2. :func:`parse_meta` -- the metadata JSON: at most :data:`MAX_META_CHARS` characters,
   nested at most :data:`MAX_META_DEPTH` levels, every field of the expected type.
3. :func:`check_tensors` -- weights and normalizers are plain dense CPU tensors whose views
   do not claim more bytes than their storage holds (no zero-stride "4 TB" tensor).
4. :func:`check_model_fits` -- the model is built on PyTorch's ``meta`` device (shapes only,
   no memory) under a budget of modules and parameters proportional to the weights in the
   file; its expected weight names and shapes must equal the file's, the normalizers must
   match its input and output widths and the recipe must fit its input width.

Once (4) passed, building the real model allocates what the file's weights already take.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from gnnops.errors import ArtifactError

__all__ = ["MAX_META_CHARS", "MAX_META_DEPTH", "MAX_PICKLE_BYTES", "check_archive",
           "parse_meta", "check_tensors", "check_model_fits"]

MAX_META_CHARS = 16 * 2**20
MAX_META_DEPTH = 64
MAX_PICKLE_BYTES = 64 * 2**20
# registrations (modules + parameters + buffers) allowed while building the model on the
# meta device: _BUDGET_PER_WEIGHT per tensor in the file plus _BUDGET_BASE
_BUDGET_PER_WEIGHT, _BUDGET_BASE = 4, 256
# elements the built model may hold beyond the file's weights (non-persistent buffers)
_EXTRA_ELEMENTS = 2**20
_SNIFF = ((b"<?xml", "an XML file (a .vtu/.xdmf mesh or .graphml network?)"),
          (b"<VTKFile", "a VTK XML mesh file"), (b"# vtk", "a legacy VTK mesh file"),
          (b"\x89HDF", "an HDF5 file"), (b"$MeshFormat", "a gmsh mesh file"))


def _bad(path: Path, what: str) -> ArtifactError:
    return ArtifactError(f"artifact '{path}' is malformed: expected {what}")


def _file_kind(path: Path, head: bytes) -> str | None:
    """'a mesh file (.vtu)' etc. when ``path`` is evidently not a model artifact."""
    from meshio._helpers import extension_to_filetypes

    from gnnops.graphs.network_io import NETWORK_FORMATS

    name = path.name.lower()
    for ext in sorted(extension_to_filetypes, key=len, reverse=True):
        if name.endswith(ext):
            return f"a mesh file ({ext})"
    if path.suffix.lower() in NETWORK_FORMATS:
        return f"a network file ({path.suffix.lower()})"
    if path.suffix.lower() in (".yaml", ".yml"):
        return f"a config file ({path.suffix.lower()})"
    for magic, kind in _SNIFF:
        if head.lstrip().startswith(magic):
            return kind
    return None


def check_archive(path: Path) -> None:
    """ArtifactError unless ``path`` is a zip archive of stored entries that fit the file."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not zipfile.is_zipfile(path):
        kind = _file_kind(path, head)
        if kind is not None:
            raise ArtifactError(f"'{path}' is {kind}, not a model artifact (expected the "
                                f"model.pt that `gnnops train` writes)")
        got = "an empty file" if size == 0 else f"{size} bytes that are not a zip archive"
        raise ArtifactError(f"cannot read model artifact '{path}': expected a gnnops artifact "
                            f"written by torch.save, a zip archive (got {got}: the file is "
                            f"truncated, corrupt or of another kind)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except Exception as exc:  # noqa: BLE001 -- zipfile raises many types on a damaged index
        raise ArtifactError(f"cannot read model artifact '{path}': its zip index is damaged "
                            f"({type(exc).__name__}: {exc})") from None
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise ArtifactError(f"refusing to load '{path}': entry {info.filename!r} is "
                                f"compressed (method {info.compress_type}); torch.save stores "
                                f"entries uncompressed, so it may be a decompression bomb")
        if info.file_size > size:
            raise _bad(path, f"entries no larger than the file ({size} bytes); entry "
                             f"{info.filename!r} declares {info.file_size}")
        if info.filename.endswith("data.pkl") and info.file_size > MAX_PICKLE_BYTES:
            raise _bad(path, f"a record index of at most {MAX_PICKLE_BYTES} bytes (got "
                             f"{info.file_size})")


def _depth_ok(obj: Any, limit: int) -> bool:
    """Whether ``obj`` (parsed JSON) nests at most ``limit`` containers deep (iterative)."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict | list):
            if d > limit:
                return False
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return True


_META_TYPES: dict[str, tuple[type, ...]] = {
    "model_name": (str,), "model_kwargs": (dict,), "recipe": (dict,),
    "problem": (str, type(None)), "config": (dict,), "metrics": (dict,), "version": (str,),
    "checksum": (str,), "integrity": (str,),
}


def parse_meta(path: Path, text: Any) -> dict[str, Any]:
    """The metadata dict parsed from its JSON ``text``, with every known field type-checked."""
    if not isinstance(text, str):
        raise _bad(path, f"metadata as a JSON string (got {type(text).__name__})")
    if len(text) > MAX_META_CHARS:
        raise _bad(path, f"metadata of at most {MAX_META_CHARS} characters (got {len(text)})")
    try:
        meta = json.loads(text)
    except RecursionError:
        raise _bad(path, f"metadata nested at most {MAX_META_DEPTH} levels deep "
                         f"(got deeper)") from None
    except ValueError as exc:
        raise ArtifactError(f"artifact '{path}' has malformed metadata ({exc})") from None
    if not _depth_ok(meta, MAX_META_DEPTH):
        raise _bad(path, f"metadata nested at most {MAX_META_DEPTH} levels deep (got deeper)")
    if not isinstance(meta, dict) or not isinstance(meta.get("model_name"), str):
        raise _bad(path, "metadata with a 'model_name' string")
    for key, types in _META_TYPES.items():
        if key in meta and not isinstance(meta[key], types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise _bad(path, f"metadata '{key}' of type {names} (got "
                             f"{type(meta[key]).__name__})")
    return meta


def check_tensors(path: Path, parts: Mapping[str, Any]) -> None:
    """ArtifactError unless every part maps names to dense CPU tensors backed by real bytes.

    Args:
        path: the artifact (for messages).
        parts: ``{"state_dict": {...}, "normalizers": {...}}`` as loaded.
    """
    viewed, stored = 0, {}
    for part, tensors in parts.items():
        if not isinstance(tensors, dict) or not all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()):
            raise _bad(path, f"'{part}' to map names to tensors")
        for name, t in tensors.items():
            if t.layout != torch.strided or t.is_quantized or t.is_nested or t.is_meta:
                raise _bad(path, f"'{part}' tensor {name!r} to be a dense tensor (got layout "
                                 f"{t.layout}, dtype {t.dtype})")
            st = t.untyped_storage()
            nbytes = t.numel() * t.element_size()
            if nbytes > st.nbytes():
                raise _bad(path, f"'{part}' tensor {name!r} of shape {list(t.shape)} to be "
                                 f"backed by {nbytes} bytes (its storage holds {st.nbytes()})")
            viewed += nbytes
            stored[st.data_ptr()] = st.nbytes()
    if viewed > 4 * sum(stored.values()) + 2**20:
        raise _bad(path, f"tensors that view their stored bytes at most 4 times (they view "
                         f"{viewed} bytes of {sum(stored.values())})")


class _OverBudget(Exception):
    """The model under construction grew past the registration budget."""


@contextmanager
def _registration_budget(limit: int) -> Iterator[None]:
    """Raise ``_OverBudget`` (in this thread) once more than ``limit`` modules, parameters and
    buffers have been registered: a huge ``depth`` stops early instead of building forever."""
    from torch.nn.modules import module as M

    me, count = threading.get_ident(), [0]

    def hook(*_: Any) -> None:
        if threading.get_ident() == me:
            count[0] += 1
            if count[0] > limit:
                raise _OverBudget
        return None

    handles = [M.register_module_module_registration_hook(hook),
               M.register_module_parameter_registration_hook(hook),
               M.register_module_buffer_registration_hook(hook)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _meta_model(path: Path, name: str, kwargs: dict[str, Any], n_weights: int) -> torch.nn.Module:
    """The model built on the meta device (no memory), within the registration budget."""
    from gnnops.errors import GnnopsError
    from gnnops.models import build

    limit = _BUDGET_PER_WEIGHT * n_weights + _BUDGET_BASE
    try:
        with _registration_budget(limit), torch.device("meta"):
            return build(name, **kwargs)
    except _OverBudget:
        raise ArtifactError(f"artifact '{path}': model {name!r} with the recorded arguments "
                            f"has far more layers than the {n_weights} weight tensors in the "
                            f"file (stopped after {limit} modules and parameters)") from None
    except GnnopsError as exc:
        raise ArtifactError(f"cannot rebuild model {name!r} from the artifact '{path}' "
                            f"({exc})") from None
    except Exception as exc:  # noqa: BLE001 -- any constructor failure on stranger's kwargs
        raise ArtifactError(f"cannot rebuild model {name!r} from the artifact '{path}' "
                            f"(arguments {type(exc).__name__}: {exc})") from None


def _compare_weights(path: Path, name: str, model: torch.nn.Module,
                     state: Mapping[str, torch.Tensor]) -> None:
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(want[k].shape)}"
              for k in sorted(set(want) & set(state))
              if tuple(state[k].shape) != tuple(want[k].shape)
              or state[k].is_floating_point() != want[k].is_floating_point()]
    if missing or extra or shapes:
        parts = ([f"missing {missing[:5]}"] if missing else []) + (
            [f"unexpected {extra[:5]}"] if extra else []) + shapes[:5]
        raise ArtifactError(f"artifact weights do not fit model {name!r} ({'; '.join(parts)})")
    in_file = sum(t.numel() for t in state.values())
    built = sum(t.numel() for t in model.parameters()) + sum(b.numel() for b in model.buffers())
    if built > in_file + _EXTRA_ELEMENTS:
        raise ArtifactError(f"artifact '{path}': model {name!r} would hold {built} numbers, "
                            f"far more than the {in_file} weights in the file")


def check_model_fits(path: Path, meta: Mapping[str, Any], state: Mapping[str, torch.Tensor],
                     normalizers: Mapping[str, torch.Tensor]) -> None:
    """ArtifactError unless the recorded model, weights, normalizers and recipe agree.

    Builds the model on the meta device only; see the module docstring.
    """
    name, kwargs = meta["model_name"], meta.get("model_kwargs") or {}
    if not all(isinstance(k, str) for k in kwargs):
        raise _bad(path, "model_kwargs with string keys")
    model = _meta_model(path, name, dict(kwargs), len(state))
    _compare_weights(path, name, model, state)
    widths = {"x": kwargs.get("in_channels"), "y": kwargs.get("out_channels")}
    for key, t in normalizers.items():
        w = widths.get(key.split(".")[0])
        if not t.is_floating_point() or t.dim() > 1 or (
                isinstance(w, int) and t.numel() not in (1, w)):
            raise _bad(path, f"normalizer {key!r} to be a float vector of {w} values (got "
                             f"{t.dtype} of shape {list(t.shape)})")
        if not bool(torch.isfinite(t).all()) or (key.endswith(".std") and bool((t <= 0).any())):
            raise _bad(path, f"normalizer {key!r} of finite values (and positive stds)")
    _check_recipe(path, meta.get("recipe") or {}, widths["x"])


def _int_list(v: Any, lo: int) -> bool:
    return isinstance(v, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= lo for d in v)


def _check_recipe(path: Path, recipe: Mapping[str, Any], in_channels: Any) -> None:
    """The recipe fields that size allocations at prediction time fit the model's input."""
    for key in ("inputs", "targets", "features"):
        v = recipe.get(key, [])
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise _bad(path, f"recipe '{key}' as a list of names (got {v!r:.80})")
    for key, lo in (("input_dims", 0), ("target_dims", 1)):
        if not _int_list(recipe.get(key, []), lo):
            raise _bad(path, f"recipe '{key}' as a list of integers >= {lo} "
                             f"(got {recipe.get(key)!r:.80})")
    n_in = sum(recipe.get("input_dims", []))
    cap = in_channels if isinstance(in_channels, int) and not isinstance(in_channels, bool) \
        else None
    if cap is not None and n_in > cap:
        raise _bad(path, f"recipe input widths {recipe.get('input_dims')} to fit the model's "
                         f"{cap} input columns")
    k = recipe.get("num_node_types", 2)
    if not _int_list([k], 1) or (cap is not None and "node_type_onehot" in
                                 recipe.get("features", []) and k > cap):
        raise _bad(path, f"recipe 'num_node_types' as an integer in [1, {cap}] (got {k!r:.40})")
    st = recipe.get("train_stats") or {}
    if not isinstance(st, dict):
        raise _bad(path, f"recipe 'train_stats' as a mapping (got {type(st).__name__})")
    for key in ("nodes_min", "nodes_max", "spacing_min", "spacing_max"):
        v = st.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise _bad(path, f"train_stats '{key}' as a number (got {v!r:.40})")
    lo, hi = st.get("input_min") or [], st.get("input_max") or []
    for v in (lo, hi):
        if not isinstance(v, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in v):
            raise _bad(path, f"train_stats input_min/input_max as lists of numbers "
                             f"(got {v!r:.80})")
    if (lo or hi) and not len(lo) == len(hi) == n_in:
        raise _bad(path, f"train_stats input_min/input_max with {n_in} values each (one per "
                         f"raw input column; got {len(lo)} and {len(hi)})")
