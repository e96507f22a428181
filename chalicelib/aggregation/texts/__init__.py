"""Free text: ``weighted_medoid`` (default), ``rover`` (word-level fusion) and ``medoid``
(baseline); one method per module, each docstring states its model and paper."""
