"""What Foule does, as plain functions called by the routes and by the scheduled aggregator.

Each takes validated pydantic bodies and the caller, talks to the store through the models,
and returns pydantic responses or raises chalicelib.errors.

`from chalicelib import services` imports none of them: `services.projects` imports
chalicelib.services.projects on first use (PEP 562). app.py's views call services this way,
so a Lambda's cold start imports only what its request calls.
"""
import importlib


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise  # the service exists but imports something missing
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
