"""Bounding boxes: ``box_clusters`` (default) and ``medoid`` (baseline); one method per module,
each docstring states its model and paper."""
