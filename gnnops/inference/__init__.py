"""Prediction with trained artifacts: ``Predictor``, ``Prediction``, batch runs, hybrid solve.

``gnnops.load(path)`` returns a :class:`Predictor`; the ``gnnops predict`` and
``gnnops info`` commands live in :mod:`gnnops.inference.cli` and
:mod:`gnnops.inference.info_cli`.
"""

from gnnops.inference.batch import BatchResult
from gnnops.inference.prediction import Prediction
from gnnops.inference.predictor import Predictor
from gnnops.inference.refine import Refinement

__all__ = ["Predictor", "Prediction", "BatchResult", "Refinement"]
