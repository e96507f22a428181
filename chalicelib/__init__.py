"""Foule's code besides the route table in app.py.

models/    pynamodb tables (one module per table)
schemas/   pydantic request and response bodies (the OpenAPI description is built from them)
services/  what the API and the scheduled function do, in plain functions
aggregation/ pure numpy truth inference (no AWS): imported only by the aggregator
"""
