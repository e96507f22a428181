"""Developer commands: the local stack, the replay tool, key administration."""
