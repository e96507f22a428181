"""Pairwise comparisons: ``crowd_davidson`` (default), ``crowd_bt``, ``bt`` and ``win_rate``
(baseline); one method per module, each docstring states its model and paper."""
from ._comparisons import least_certain_pairs

__all__ = ["least_certain_pairs"]
