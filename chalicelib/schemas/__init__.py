"""pydantic models of every request and response body.

The OpenAPI description served at /openapi.json is generated from these (chalicelib/openapi.py),
so a change here is a change of the documented API.
"""
