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
training metrics, the package version and a SHA-256 checksum of the weights,
which is checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gnnops._atomic import atomic_open
from gnnops.errors import ArtifactError
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
    except TypeError as exc:
        raise ArtifactError(f"artifact metadata must be JSON-serializable ({exc})") from exc
    payload = {
        "magic": MAGIC,
        "format_version": FORMAT_VERSION,
        "meta": meta_json,
        "state_dict": state,
        "normalizers": {k: v.detach().cpu().clone() for k, v in art.normalizers.items()},
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
        ArtifactError: missing or truncated file, not an artifact (wrong magic),
            another format version, a payload carrying a pickled object, or a
            weights checksum that does not match.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"expected a model artifact file at '{path}' (not found)")
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
    if not isinstance(payload, dict) or payload.get("magic") != MAGIC:
        got = payload.get("magic") if isinstance(payload, dict) else type(payload).__name__
        raise ArtifactError(f"'{path}' is not a gnnops artifact (expected magic {MAGIC!r}, "
                            f"got {got!r})")
    ver = payload.get("format_version")
    if ver != FORMAT_VERSION:
        raise ArtifactError(f"artifact '{path}' has format version {ver!r}; this gnnops "
                            f"reads version {FORMAT_VERSION}")
    try:
        meta = json.loads(payload["meta"])
        state = payload["state_dict"]
        normalizers = payload.get("normalizers", {})
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"artifact '{path}' has malformed metadata ({exc})") from None
    _check_payload(path, meta, state, normalizers)
    if weights_checksum(state) != meta.get("checksum"):
        raise ArtifactError(f"artifact '{path}': weights checksum does not match the one "
                            "recorded at save time (file modified or corrupt)")
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
        if names in recipe and dims in recipe and len(recipe[names]) != len(recipe[dims]):
            raise bad(f"recipe '{names}' {recipe[names]} and '{dims}' {recipe[dims]} "
                      f"of equal length")
