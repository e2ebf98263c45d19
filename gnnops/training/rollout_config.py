"""The ``rollout`` section of the run config (time-dependent problems, ``task: rollout``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RolloutConfig"]


@dataclass
class RolloutConfig:
    """Time-dependent problems (``task: rollout``, see :mod:`gnnops.surrogate.stepping`).

    Attributes:
        noise_std: std of the Gaussian noise added to the state (physical units) of each
            training pair, with the target corrected (MeshGraphNets); never in evaluation.
        dt_feature: give the model the time step ``dt`` as an input column.
        steps: rollout length in evaluation (``None`` = the stored trajectory's length).
        max_samples: cap on evaluated samples per split and resolution (``None`` = all).
        write_trajectories: write one predicted trajectory per split / resolution into the
            run folder (meshes: a VTU per step and a .pvd; networks: GraphML time series).
        anchor: ``None`` (default) or a constant state ``c`` that is a steady state of the
            dynamics (e.g. ``0`` for Fisher--KPP / SIS-type spreading): the one-step map
            becomes ``model(s) - model(c)``, so the constant state is reproduced exactly and,
            with a ``depth``-block message-passing model, a node whose ``depth``-hop
            neighbourhood sits at ``c`` gets exactly zero increment (no spurious bias that an
            unstable fixed point would amplify). Costs a second forward pass in training.
    """

    noise_std: float = 0.0
    dt_feature: bool = True
    steps: int | None = None
    max_samples: int | None = None
    write_trajectories: bool = True
    anchor: float | None = None
