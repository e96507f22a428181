"""Multiple choice: ``label_ds`` (default) and ``label_vote`` (baseline); one method per module,
each docstring states its model and paper."""
