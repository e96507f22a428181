"""Numbers and ratings: ``number`` (bias_variance, mean, median) and ``rating`` (ordinal,
median, vote); one method per module, each docstring states its model and paper."""
