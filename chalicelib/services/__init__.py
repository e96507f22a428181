"""What Foule does, as plain functions called by the routes and by the scheduled aggregator.

Each takes validated pydantic bodies and the caller, talks to the store through the models,
and returns pydantic responses or raises chalicelib.errors.
"""
