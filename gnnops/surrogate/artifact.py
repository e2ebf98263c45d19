"""The model artifact: one self-contained file that prediction needs.

Layout (``torch.save`` of a plain dict, loaded with ``weights_only=True`` so a
file from a stranger cannot run code)::

    {
      "magic": "gnnops-artifact",
      "format_version": 1,
      "meta": "<JSON string>",          # see Artifact fields below
      "state_dict": {name: Tensor},     # model weights
      "normalizers": {name: Tensor},    # e.g. "x.mean", "x.std", "y.mean", "y.std"
    }

``meta`` holds the model name and constructor arguments, the graph recipe (which
fields, which features, radius), the problem name, the training config, the
training metrics, the package version, a SHA-256 checksum of the weights and
``integrity``: a SHA-256 over all of it -- weights, normalizers and metadata
(:mod:`gnnops.surrogate.integrity`). Both are checked on load, after the checks of
:mod:`gnnops.surrogate.artifact_checks` (every malformed field is an
``ArtifactError`` before anything large is allocated). An artifact written before the
integrity digest existed loads with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gnnops._atomic import atomic_open
from gnnops.errors import ArtifactError
from gnnops.surrogate.artifact_checks import (
    check_archive,
    check_model_fits,
    check_tensors,
    parse_meta,
)
from gnnops.surrogate.integrity import INTEGRITY_KEY, content_digest
from gnnops.surrogate.recipe import Recipe, as_recipe

__all__ = ["MAGIC", "FORMAT_VERSION", "Artifact", "save_artifact", "load_artifact",
           "weights_checksum"]

MAGIC = "gnnops-artifact"
FORMAT_VERSION = 1


@dataclass
class Artifact:
    """A loaded model artifact.

    Attributes:
        model_name: registry name of the model (``gnnops.models``); the one copy of it:
            the file's config holds no ``model.name``, the loaded ``config`` gets it from here.
        model_kwargs: constructor arguments of the model.
        state_dict: model weights.
        normalizers: normalizer statistics, name -> tensor.
        recipe: how to build the model's graph and features from a mesh/network
            (:class:`~gnnops.surrogate.recipe.Recipe`; stored as its ``to_json()``).
        problem: name of the physical problem (or ``None``).
        config: the resolved training config (plain dict).
        metrics: training / evaluation metrics (plain dict).
        version: gnnops version that wrote it.
    """

    model_name: str
    model_kwargs: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    normalizers: dict[str, torch.Tensor] = field(default_factory=dict)
    recipe: Recipe = field(default_factory=Recipe)
    problem: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str = ""

    def __post_init__(self) -> None:
        self.recipe = as_recipe(self.recipe)
        if isinstance(self.config.get("model"), dict):  # derived from model_name, not stored
            self.config["model"] = {"name": self.model_name, **{
                k: v for k, v in self.config["model"].items() if k != "name"}}


def weights_checksum(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the weights' names, shapes, dtypes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_artifact(path: str | os.PathLike, art: Artifact) -> Path:
    """Write ``art`` to ``path`` atomically (temporary file, then rename).

    Returns:
        The path written.
    """
    from gnnops import __version__

    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in art.state_dict.items()}
    meta = {
        "model_name": art.model_name,
        "model_kwargs": art.model_kwargs,
        "recipe": art.recipe.to_json(),
        "problem": art.problem,
        "config": _without_model_name(art.config),
        "metrics": art.metrics,
        "version": art.version or __version__,
        "checksum": weights_checksum(state),
    }
    try:
        meta_json = json.dumps(meta, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"artifact metadata must be JSON-serializable ({exc})") from exc
    normalizers = {k: v.detach().cpu().clone() for k, v in art.normalizers.items()}
    sealed = json.loads(meta_json)  # the digest covers the metadata exactly as it is read back
    sealed[INTEGRITY_KEY] = content_digest(sealed, state, normalizers)
    payload = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "meta": json.dumps(sealed, sort_keys=True),
        "state_dict": state,
        "normalizers": normalizers,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb", fsync=True) as fh:
        torch.save(payload, fh)
    return path


def _without_model_name(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without ``model.name`` (``meta["model_name"]`` is its one copy)."""
    if not isinstance(config.get("model"), dict):
        return config
    return {**config, "model": {k: v for k, v in config["model"].items() if k != "name"}}


def _read_recipe(path: Path, recipe: Any) -> Recipe:
    """The typed recipe of a loaded artifact (a plain dict of older artifacts reads too)."""
    try:
        return Recipe.from_json(recipe)
    except ArtifactError as exc:
        raise ArtifactError(f"artifact '{path}' is malformed: {exc}") from None


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def load_artifact(path: str | os.PathLike) -> Artifact:
    """Load an artifact without unpickling code, and verify its checksum.

    Raises:
        ArtifactError: missing or truncated file, not an artifact (wrong magic, a mesh
            file), another format version, a payload carrying a pickled object, a
            malformed field (:mod:`~gnnops.surrogate.artifact_checks`), weights that do not
            fit the recorded model, or a checksum / integrity digest that does not match.
    """
    path = Path(path)
    if not path.is_file():
        why = "not found" if not path.exists() else "it is not a regular file"
        raise ArtifactError(f"expected a model artifact file at '{path}' ({why})")
    check_archive(path)
    meta_text, state, normalizers = _read_payload(path)
    meta = parse_meta(path, meta_text)
    check_tensors(path, {"state_dict": state, "normalizers": normalizers})
    _check_payload(path, meta, state, normalizers)
    _verify_integrity(path, meta, state, normalizers)
    check_model_fits(path, meta, state, normalizers)
    return Artifact(
        model_name=meta["model_name"],
        model_kwargs=meta.get("model_kwargs", {}),
        state_dict=state,
        normalizers=normalizers,
        recipe=_read_recipe(path, meta.get("recipe") or {}),
        problem=meta.get("problem"),
        config=meta.get("config", {}),
        metrics=meta.get("metrics", {}),
        version=meta.get("version", ""),
    )


def _read_payload(path: Path) -> tuple[Any, Any, Any]:
    """``(meta JSON text, state_dict, normalizers)`` of an artifact file, read with
    ``weights_only=True``.

    Raises:
        ArtifactError: a pickled object, a truncated or unreadable file, another magic or
            format version, or a missing part.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ArtifactError(
            f"refusing to load '{path}': it is not a plain gnnops artifact (it carries "
            f"pickled objects that would need code to unpickle; nothing in it was run)"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArtifactError(
            f"cannot read model artifact '{path}': expected a gnnops artifact written by "
            f"torch.save (file is truncated or corrupt: {exc})"
        ) from None
    except Exception as exc:  # noqa: BLE001 -- torch's legacy reader raises KeyError etc.
        raise ArtifactError(
            f"cannot read model artifact '{path}': expected a gnnops artifact written by "
            f"torch.save (got unreadable content: {type(exc).__name__}: {exc})"
        ) from None
    magic = payload.get("magic") if isinstance(payload, dict) else None
    if not isinstance(magic, str) or magic != MAGIC:
        got = magic if isinstance(payload, dict) else type(payload).__name__
        raise ArtifactError(f"'{path}' is not a gnnops artifact (expected magic {MAGIC!r}, "
                            f"got {got!r:.80})")
    ver = payload.get("format_version")
    if type(ver) is not int or ver != FORMAT_VERSION:
        raise ArtifactError(f"artifact '{path}' has format version {ver!r:.40}; this gnnops "
                            f"reads version {FORMAT_VERSION}")
    try:
        meta_text = payload["meta"]
        state = payload["state_dict"]
        normalizers = payload.get("normalizers", {})
    except KeyError as exc:
        raise ArtifactError(f"artifact '{path}' has malformed metadata (missing {exc})") from None
    return meta_text, state, normalizers


def _verify_integrity(path: Path, meta: dict[str, Any], state: dict[str, torch.Tensor],
                      normalizers: dict[str, torch.Tensor]) -> None:
    """ArtifactError unless the weights checksum and the whole-artifact digest match.

    An artifact written before the digest existed (weights checksum only) loads with a
    warning: its normalizers, recipe and metadata cannot be verified.
    """
    if "checksum" in meta and weights_checksum(state) != meta["checksum"]:
        raise ArtifactError(f"artifact '{path}': weights checksum does not match the one "
                            "recorded at save time (file modified or corrupt)")
    recorded = meta.get(INTEGRITY_KEY)
    if recorded is None:
        if "checksum" not in meta:
            raise ArtifactError(f"artifact '{path}' carries no checksum (expected metadata "
                                f"'{INTEGRITY_KEY}'): it was not written by gnnops")
        warnings.warn(f"artifact '{path}' predates whole-artifact integrity checks: only its "
                      f"weights are verified, not its normalizers, recipe or metadata; "
                      f"re-save it with this gnnops (load_artifact, then save_artifact) or "
                      f"retrain", UserWarning, stacklevel=3)
        return
    if content_digest(meta, state, normalizers) != recorded:
        raise ArtifactError(f"artifact '{path}': integrity check failed: its normalizers, "
                            f"recipe or metadata differ from what was saved (file modified "
                            f"or corrupt); retrain or use an unmodified copy")


def _check_payload(path: Path, meta: Any, state: Any, normalizers: Any) -> None:
    """ArtifactError unless the loaded parts have the types and keys an artifact has."""
    def bad(what: str) -> ArtifactError:
        return ArtifactError(f"artifact '{path}' is malformed: expected {what}")

    if not isinstance(meta, dict) or not isinstance(meta.get("model_name"), str):
        raise bad("metadata with a 'model_name' string")
    for name, part in (("state_dict", state), ("normalizers", normalizers)):
        if not isinstance(part, dict) or not all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in part.items()):
            raise bad(f"'{name}' to map names to tensors")
    recipe = meta.get("recipe") or {}
    if not isinstance(recipe, dict):
        raise bad(f"a recipe mapping (got {type(recipe).__name__})")
    for names, dims in (("inputs", "input_dims"), ("targets", "target_dims")):
        a, b = recipe.get(names), recipe.get(dims)
        if isinstance(a, list) and isinstance(b, list) and len(a) != len(b):
            raise bad(f"recipe '{names}' {recipe[names]} and '{dims}' {recipe[dims]} "
                      f"of equal length")
