"""Pairwise comparisons: ``crowd_bt`` (default), ``bt`` and ``win_rate`` (baseline); one method
per module, each docstring states its model and paper."""
from ._comparisons import least_certain_pairs

__all__ = ["least_certain_pairs"]
