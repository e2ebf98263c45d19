"""Surrogate: a model plus its normalizers and graph recipe, in physical units.

``forward(batch)`` takes prepared graphs (:func:`gnnops.surrogate.prepare.prepare_graph`)
whose ``x`` is in physical units, normalizes ``x`` with the training statistics, runs the
model and de-normalizes its output. The whole thing round-trips through one artifact.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnops.errors import ArtifactError, ModelError
from gnnops.surrogate.artifact import Artifact
from gnnops.surrogate.prepare import prepare_graph
from gnnops.surrogate.recipe import Recipe, as_recipe

__all__ = ["Surrogate"]

_KEYS = ("x.mean", "x.std", "y.mean", "y.std")
# optional: edge-feature statistics (``data.normalize_edges``); absent in older artifacts
_EDGE_KEYS = ("e.mean", "e.std")


class Surrogate(nn.Module):
    """A trained operator in physical units.

    Args:
        model: the graph model (``forward(data) -> [N, F_out]`` on normalized ``x``).
        model_name: its registry name in ``gnnops.models``; default (and it must agree)
            ``model.name``, the registry name a model class carries.
        model_kwargs: its constructor arguments (``model.config()``).
        recipe: the graph recipe (:class:`~gnnops.surrogate.recipe.Recipe`; a mapping is read
            by ``Recipe.from_json``).
        normalizers: ``x.mean``/``x.std`` [F_in] and ``y.mean``/``y.std`` [F_out]; optionally
            ``e.mean``/``e.std`` [F_edge], then ``edge_attr`` is normalized too.
    """

    def __init__(self, model: nn.Module, *, model_name: str | None = None,
                 model_kwargs: dict[str, Any], recipe: Recipe | Mapping[str, Any],
                 normalizers: dict[str, Tensor]) -> None:
        super().__init__()
        missing = [k for k in _KEYS if k not in normalizers]
        if missing:
            raise ArtifactError(f"expected normalizers {', '.join(_KEYS)} "
                                f"(missing {', '.join(missing)})")
        self.model = model
        self.model_name = _model_name(model, model_name)
        self.model_kwargs = copy.deepcopy(model_kwargs)
        self.recipe: Recipe = copy.deepcopy(as_recipe(recipe))
        if any(k in normalizers for k in _EDGE_KEYS) and not all(
                k in normalizers for k in _EDGE_KEYS):
            raise ArtifactError("expected both edge normalizers e.mean and e.std, or neither")
        self._keys = _KEYS + (_EDGE_KEYS if "e.mean" in normalizers else ())
        for key in self._keys:
            self.register_buffer(key.replace(".", "_"), normalizers[key].detach().float().clone(),
                                 persistent=False)

    @property
    def normalizers(self) -> dict[str, Tensor]:
        """``{"x.mean", "x.std", "y.mean", "y.std"[, "e.mean", "e.std"]}`` -> CPU copies."""
        return {k: getattr(self, k.replace(".", "_")).detach().cpu().clone() for k in self._keys}

    def prepare(self, data: Data) -> Data:
        """Raw graph -> model-ready graph (recipe features, then ``model.prepare``)."""
        return prepare_graph(data, self.recipe, model=self.model)

    def forward(self, batch: Data, *, normalized: bool = False, input_noise: float = 0.0
                ) -> Tensor:
        """Predict per-node outputs.

        Args:
            batch: prepared ``Data``/``Batch`` with ``x`` [N, F_in] in physical units.
            normalized: return the normalized output (what the training loss compares).
            input_noise: std of Gaussian noise added to the normalized raw-input columns
                (training only; positional / derived features are left clean).

        Returns:
            [N, F_out] in physical units (or normalized units when ``normalized``).
        """
        xn = (batch.x.to(self.x_mean.dtype) - self.x_mean) / self.x_std
        if input_noise > 0:
            n_in = int(sum(self.recipe.input_dims))
            noise = torch.randn_like(xn[:, :n_in]) * input_noise
            xn = torch.cat([xn[:, :n_in] + noise, xn[:, n_in:]], dim=1)
        b = copy.copy(batch)
        b.x = xn
        ea = getattr(batch, "edge_attr", None)
        if "e.mean" in self._keys and ea is not None and ea.shape[-1] == self.e_mean.shape[0]:
            b.edge_attr = (ea.to(self.e_mean.dtype) - self.e_mean) / self.e_std
        out = self.model(b)
        if normalized:
            return out
        return self.physical(out, batch)

    def physical(self, out: Tensor, batch: Data) -> Tensor:
        """Normalized output [N, F_out] -> physical units, with the recipe's exact scaling
        law (``batch.out_scale`` [N, 1]) and hard zero Dirichlet values: the smooth factor
        ``tanh(d / dirichlet_length)`` when the recipe has a length (``d`` =
        ``batch.wall_distance`` [N], or ``batch.dirichlet_distance`` when u = 0 holds on the
        problem's part of the boundary only), and 0 at ``batch.boundary`` nodes (whole
        boundary).
        """
        u = self.denormalize(out)
        scale = getattr(batch, "out_scale", None)
        if scale is not None:
            u = u * scale.reshape(-1, 1).to(u.dtype)
        if self.recipe.hard_dirichlet:
            part = self.recipe.dirichlet_set == "problem"
            d = getattr(batch, "dirichlet_distance" if part else "wall_distance", None)
            if self.recipe.dirichlet_length > 0 and d is not None:
                u = u * torch.tanh(d.reshape(-1, 1).to(u.dtype) / self.recipe.dirichlet_length)
            bnd = None if part else getattr(batch, "boundary", None)
            if bnd is not None:
                u = u * (~bnd.reshape(-1, 1).bool()).to(u.dtype)
        return u

    def normalized_error(self, out: Tensor, batch: Data) -> Tensor:
        """Normalized output [N, F_out] minus ``batch.y`` in normalized units (the MSE
        loss's error); with the smooth Dirichlet factor, the physical error divided by the
        target unit, since the factor's zeros leave no normalized target on the boundary."""
        if self.recipe.hard_dirichlet and self.recipe.dirichlet_length > 0:
            unit = self.y_std.reshape(1, -1)
            scale = getattr(batch, "out_scale", None)
            if scale is not None:
                unit = unit * scale.reshape(-1, 1).float()
            return (self.physical(out.float(), batch) - batch.y.float()) / unit
        return out.float() - self.normalize_target(batch.y, batch)

    def denormalize(self, out: Tensor) -> Tensor:
        """Normalized output [N, F_out] -> physical units (before scaling laws)."""
        return out.float() * self.y_std + self.y_mean

    def normalize_target(self, y: Tensor, batch: Data | None = None) -> Tensor:
        """Physical targets [N, F_out] -> normalized units (divided by ``batch.out_scale``
        first when the recipe has a scaling law)."""
        scale = None if batch is None else getattr(batch, "out_scale", None)
        if scale is not None:
            y = y.float() / scale.reshape(-1, 1).float()
        return (y.float() - self.y_mean) / self.y_std

    @classmethod
    def from_artifact(cls, art: Artifact) -> Surrogate:
        """Rebuild from a loaded artifact (model in eval mode).

        Raises:
            ArtifactError: the model cannot be built or its weights do not fit.
        """
        from gnnops.errors import GnnopsError
        from gnnops.models import build

        try:
            model = build(art.model_name, **art.model_kwargs)
        except GnnopsError as exc:
            raise ArtifactError(f"cannot rebuild model {art.model_name!r} from the "
                                f"artifact ({exc})") from None
        try:
            model.load_state_dict(art.state_dict)
        except RuntimeError as exc:
            raise ArtifactError(f"artifact weights do not fit model {art.model_name!r} "
                                f"({' '.join(str(exc).split())})") from None
        sur = cls(model, model_name=art.model_name, model_kwargs=art.model_kwargs,
                  recipe=art.recipe, normalizers=art.normalizers)
        return sur.eval()

    def to_artifact(self, *, problem: str | None, config: dict[str, Any],
                    metrics: dict[str, Any]) -> Artifact:
        """Pack weights, constructor arguments, normalizers and recipe into an Artifact."""
        return Artifact(
            model_name=self.model_name,
            model_kwargs=copy.deepcopy(self.model_kwargs),
            state_dict={k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            normalizers=self.normalizers,
            recipe=copy.deepcopy(self.recipe),
            problem=problem,
            config=copy.deepcopy(config),
            metrics=copy.deepcopy(metrics),
        )


def _model_name(model: nn.Module, given: str | None) -> str:
    """The registry name: ``model.name`` (one source of truth), or ``given`` for a model
    class without one; ModelError when both exist and disagree or neither does."""
    own = getattr(model, "name", None) or None
    if given is not None and own is not None and given != own:
        raise ModelError(f"model_name {given!r} does not match the model's registry name "
                         f"{own!r} ({type(model).__name__}.name)")
    name = given if given is not None else own
    if not name:
        raise ModelError(f"expected a model_name for {type(model).__name__} (it has no "
                         f"registry name attribute 'name')")
    return name
