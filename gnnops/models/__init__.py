"""Models: MeshGraphNet, graph neural operator (GNO), multiscale MeshGraphNet, NDCN.

Contract: ``build(name, **kwargs)`` returns a ``torch.nn.Module`` whose
``forward(data) -> [N, out_channels]``; ``model.config()`` returns the constructor
arguments, so ``build(name, **config)`` + ``load_state_dict`` rebuilds it;
``model.prepare(data) -> Data`` precomputes extra graphs (ball graph, hierarchy) once
per sample (``forward`` calls it when they are missing).
"""

from gnnops.models.base import GraphModel
from gnnops.models.gno import GNO
from gnnops.models.meshgraphnet import MeshGraphNet
from gnnops.models.multiscale import MultiScale
from gnnops.models.ndcn import NDCN
from gnnops.models.registry import MODELS, build, names

__all__ = ["GraphModel", "GNO", "MeshGraphNet", "MultiScale", "NDCN", "MODELS", "build",
           "names"]
