"""The route layer: one decorator that authenticates, validates, calls a view and shapes errors.

A view is then a few lines that call one service function. The same decorator records each
route's schemas for the OpenAPI description, so the description cannot drift from the code.

Nothing a request may not need is imported here at import time (a Lambda's cold start serves
one route): a route names its schemas ("projects.ProjectCreate", a class of
chalicelib/schemas/projects.py), imported on the route's first call, and the key store, rate
limits and the OpenAPI builder are imported by the functions that use them.
"""
from __future__ import annotations

import importlib
import json
import logging
import math
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import BotoCoreError
from chalice import AuthResponse, Chalice, CORSConfig, Response
import pydantic  # its classes load on first use (pydantic's own lazy attributes)

from chalicelib import observability
from chalicelib.errors import (BadRequest, FouleError, InternalError, NotFound, PayloadTooLarge,
                               ServiceUnavailable)
from chalicelib.settings import settings

log = logging.getLogger("foule")

# Errors of the store that a retry may cure: the client should come back later.
RETRYABLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                   "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
                   "TransactionConflictException"}


# The package whose modules hold the schemas a route names ("projects.ProjectCreate").
SCHEMAS = "chalicelib.schemas"


def schema(name: str | None) -> type[pydantic.BaseModel] | None:
    """The class a route names: "projects.ProjectCreate" is chalicelib.schemas.projects.ProjectCreate."""
    if name is None:
        return None
    module, _, class_name = name.rpartition(".")
    return getattr(importlib.import_module(f"{SCHEMAS}.{module}"), class_name)


@dataclass
class RouteSpec:
    path: str
    method: str
    name: str
    summary: str
    roles: tuple
    body: str | None  # schema names, see schema()
    query: str | None
    response: str | None
    status: int
    errors: tuple = field(default_factory=tuple)

    @property
    def body_model(self) -> type[pydantic.BaseModel] | None:
        return schema(self.body)

    @property
    def query_model(self) -> type[pydantic.BaseModel] | None:
        return schema(self.query)

    @property
    def response_model(self) -> type[pydantic.BaseModel] | None:
        return schema(self.response)


def validation_details(error: pydantic.ValidationError) -> dict:
    return {"fields": [
        {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_input=False)]}


def error_response(error: FouleError) -> Response:
    return Response(body=error.body(), status_code=error.status,
                    headers={"Content-Type": "application/json", **error.headers})


def store_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The data store is busy; retry shortly with the same request.",
                              code="store_unavailable", headers={"Retry-After": "1"})


def store_error(exc: Exception) -> FouleError | None:
    """A FouleError for a store failure a retry may cure (throttling, 5xx), else None."""
    cause = exc
    while cause is not None:
        code = getattr(cause, "cause_response_code", None) or \
            getattr(cause, "response", {}).get("Error", {}).get("Code")
        if code in RETRYABLE_CODES or isinstance(cause, BotoCoreError):
            return store_unavailable()
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return None


# The authorizer's verdict when the key could not be read because the store failed: the
# request goes on to the view, which answers 503 store_unavailable with Retry-After. A raising
# authorizer would give the gateway's bare 500 instead, with no hint that a retry will do.
KEY_LOOKUP_FAILED = "key_lookup_failed"


class UsageAuthResponse(AuthResponse):
    """chalice's AuthResponse (1.34 has no field for it) plus API Gateway's `usageIdentifierKey`:
    the API key whose usage plan counts the request (services.usage_plans; the API's key
    source is AUTHORIZER). chalice local ignores it; moto enforces no plan."""

    def __init__(self, *args, usage_identifier_key: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.usage_identifier_key = usage_identifier_key

    def to_dict(self, request) -> dict:
        verdict = super().to_dict(request)
        if self.usage_identifier_key:
            verdict["usageIdentifierKey"] = self.usage_identifier_key
        return verdict


class Api:
    def __init__(self, app: Chalice):
        self.app = app
        self.routes: list[RouteSpec] = []
        self._openapi: dict | None = None
        self.authorizer = app.authorizer(name="api_key", ttl_seconds=0)(self._authorize)
        self.cors = cors_config(settings.app_origins)
        observability.configure_logging()
        app.register_middleware(self._observe, "http")  # the outer one: it sees the final response
        app.register_middleware(reshape_chalice_errors, "http")

    def _observe(self, request, get_response):
        """One log line and the metrics of each request (chalicelib.observability), with the
        request id, route, caller role and, for an error, its code."""
        from chalicelib import auth

        context = request.context or {}
        authorizer = context.get("authorizer") or {}
        lambda_context = getattr(self.app, "lambda_context", None)
        fields = {"request_id": getattr(lambda_context, "aws_request_id", None) or context.get("requestId"),
                  "method": request.method, "route": context.get("resourcePath") or context.get("path"),
                  "role": authorizer.get("role") or auth.ANONYMOUS}
        if authorizer.get("key_id"):
            fields["key_id"] = authorizer["key_id"]
        with observability.scope("api", **fields):
            started = time.perf_counter()
            response = get_response(request)
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            body = response.body if isinstance(response.body, dict) else {}
            code = (body.get("error") or {}).get("code") if response.status_code >= 400 else None
            observability.metric(observability.REQUEST_MS, elapsed_ms, "Milliseconds")
            if code:
                observability.metric(observability.ERRORS, 1, code=code)
            level = logging.ERROR if response.status_code >= 500 and code != "store_unavailable" else \
                logging.WARNING if response.status_code >= 500 else logging.INFO
            observability.log_event("request", level, status=response.status_code, error_code=code,
                                    duration_ms=elapsed_ms)
        return response

    @staticmethod
    def _authorize(auth_request) -> AuthResponse:
        from chalicelib import auth
        from chalicelib.services import usage_plans

        try:
            caller = auth.lookup(auth_request.token)
        except Exception as exc:
            if store_error(exc) is None and not getattr(exc, "retryable", False):  # identity.Unavailable
                raise
            log.warning("key lookup failed, store unavailable: %r", exc)
            return UsageAuthResponse(routes=["*"], principal_id="anonymous",
                                     context={"role": KEY_LOOKUP_FAILED, "key_id": "", "project_ids": ""},
                                     usage_identifier_key=usage_plans.identifier(usage_plans.ANONYMOUS))
        # Context values must be plain strings for API Gateway: the scope travels comma-joined
        # (ids cannot contain commas). A refused key is counted on the anonymous API key, a
        # signed-in worker on the signed-in workers' one (services/usage_plans.py).
        return UsageAuthResponse(routes=["*"], principal_id=caller.owner_id or "anonymous",
                                 context={"role": caller.role, "key_id": caller.key_id,
                                          "project_ids": ",".join(caller.project_ids),
                                          "limits": caller.limits.encode() if caller.limits else "",
                                          "refusal": caller.refusal, "signed_in": "1" if caller.signed_in else ""},
                                 usage_identifier_key=usage_plans.identifier_of(caller))

    def route(self, path: str, method: str, *, roles: tuple | None, summary: str,
              body: str | None = None, query: str | None = None,
              response: str | None = None, status: int = 200) -> Callable:
        """Register `view(caller, **path_params, [body=...], [query=...])` as a route.

        roles=None makes the route public (no key needed). body, query and response name
        schemas ("projects.ProjectCreate": see schema()), imported on the route's first call.
        """

        def decorator(view: Callable) -> Callable:
            spec = RouteSpec(path, method, view.__name__, summary, roles or (), body, query, response, status)

            def handler(**path_params):
                return with_origin(self._respond(view, path_params, spec), self.app.current_request)

            handler.__name__ = view.__name__
            self.app.route(path, methods=[method], authorizer=self.authorizer if roles else None,
                           cors=self.cors)(handler)
            self.routes.append(spec)
            return view

        return decorator

    def _respond(self, view, path_params, spec: RouteSpec) -> Response:
        try:
            return self._handle(view, path_params, spec)
        except FouleError as error:
            return error_response(error)
        except Exception as exc:  # the last line of defence: never a bare 500 page
            error = store_error(exc)
            if error is not None:
                log.warning("store unavailable: %r", exc)
                return error_response(error)
            log.error("unhandled error: %s", traceback.format_exc())
            return error_response(InternalError("Something went wrong on our side."))

    def _handle(self, view, path_params, spec: RouteSpec):
        from chalicelib import auth
        from chalicelib.services import rate_limits

        request = self.app.current_request
        kwargs = dict(path_params)
        if spec.roles:
            caller = self._caller(request)
            if caller.role == KEY_LOOKUP_FAILED:
                raise store_unavailable()
            auth.require(caller, spec.roles)
            rate_limits.admit(caller)  # before anything is done: a refused request is safe to resend
            kwargs["caller"] = caller
        check_path_params(path_params)
        if spec.body is not None:
            kwargs["body"] = parse_body(request, spec.body_model)
        if spec.query is not None:
            kwargs["query"] = parse_model(spec.query_model, dict(request.query_params or {}))
        result = view(**kwargs)
        if isinstance(result, Response):
            return result
        response_model = spec.response_model
        if response_model is not None and not isinstance(result, response_model):
            result = response_model.model_validate(result)
        payload = result.model_dump(mode="json") if isinstance(result, pydantic.BaseModel) else result
        return Response(body=payload, status_code=spec.status, headers={"Content-Type": "application/json"})

    def openapi(self, title: str, version: str) -> dict:
        """The OpenAPI description of every route, built on its first request (it imports
        every schema)."""
        if self._openapi is None:
            from chalicelib import openapi

            self._openapi = openapi.build(self.routes, title=title, version=version)
        return self._openapi

    @staticmethod
    def _caller(request):
        """The auth.Caller the authorizer's context describes."""
        from chalicelib import auth

        context = (request.context or {}).get("authorizer") or {}
        role = context.get("role", auth.ANONYMOUS)
        owner = context.get("principalId", "")
        scope = tuple(p for p in context.get("project_ids", "").split(",") if p)
        return auth.Caller(role, owner if role != auth.ANONYMOUS else "", context.get("key_id", ""), scope,
                           auth.KeyLimits.decode(context.get("limits", "")), context.get("refusal", ""),
                           signed_in=bool(context.get("signed_in")))


# CORS for the worker app (issue 14), from another origin with 'Authorization: Bearer <ID token>'.
# Chalice (and API Gateway, which answers the preflight OPTIONS in AWS) takes one origin per
# route: the preflight names the first of settings.app_origins; a response to an actual
# request names the request's Origin when it is any of them (`with_origin`).
CORS_EXPOSED_HEADERS = ["Retry-After"]


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    if not origins:
        return None
    return CORSConfig(allow_origin=origins[0], allow_headers=["Authorization", "Content-Type"],
                      expose_headers=CORS_EXPOSED_HEADERS, max_age=600)


def with_origin(response: Response, request) -> Response:
    origin = (request.headers.get("origin") or "").rstrip("/") if request is not None else ""
    if origin and origin in settings.app_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


# Chalice answers some bad requests itself (e.g. a body that is not application/json) in
# its own shape; give them ours.
CHALICE_ERROR_CODES = {"UnsupportedMediaType": "unsupported_media_type",
                       "BadRequestError": "bad_request", "NotFoundError": "not_found",
                       "MethodNotAllowedError": "method_not_allowed"}


def reshape_chalice_errors(event, get_response):
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = CHALICE_ERROR_CODES.get(body["Code"], "bad_request")
        response.body = {"error": {"code": code, "message": str(body.get("Message", "")), "details": {}}}
        response.headers["Content-Type"] = "application/json"
    return response


def parse_model(model: type[pydantic.BaseModel], data):
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise BadRequest("The request has invalid fields.", code="validation_error",
                         details=validation_details(error)) from None


# JSON nested deeper than this is refused (DynamoDB itself stores at most 32 levels).
MAX_JSON_DEPTH = 32
# Path parameters are ids: anything longer or with control characters names nothing.
MAX_PATH_PARAM_CHARS = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _json_limit(path: str, code: str, message: str) -> BadRequest:
    return BadRequest(message, code=code, details={"path": path})


def check_json_values(data) -> None:
    """Refuse what JSON parses but nothing downstream should store: nesting deeper than
    MAX_JSON_DEPTH (400 too_deep), NaN/Infinity and numbers that overflow a double such as
    1e309 (400 invalid_number), lone UTF-16 surrogates ("\\ud800") and NUL characters in any
    string or key (400 invalid_unicode). Iterative, so no input can exhaust the stack.

    A fast pass checks each container's values in bulk (a 6 MiB body is checked in a fraction
    of a second); only if it finds something does the exact walk run to name the path."""
    if _looks_clean(data):
        return
    _find_problem(data)


def _strings_clean(strings) -> bool:
    joined = "".join(strings)
    if "\x00" in joined:
        return False
    if joined.isascii():
        return True
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _looks_clean(data) -> bool:
    if type(data) is str:
        return _strings_clean([data])
    if type(data) not in (dict, list):
        return type(data) is not float or math.isfinite(data)
    level = [data]
    for depth in range(1, MAX_JSON_DEPTH + 1):  # the depth of the containers in `level`
        below = []
        for container in level:
            if type(container) is dict:
                if not _strings_clean(container.keys()):
                    return False
                values = container.values()
            else:
                values = container
            kinds = set(map(type, values))
            if str in kinds and not _strings_clean([v for v in values if type(v) is str]):
                return False
            if float in kinds and not all(map(math.isfinite, [v for v in values if type(v) is float])):
                return False
            if dict in kinds or list in kinds:
                if depth == MAX_JSON_DEPTH:
                    return False  # a container one level too deep, even an empty one
                # Empty containers have nothing to check below them.
                below.extend(v for v in values if (type(v) is dict or type(v) is list) and v)
        if not below:
            return True
        level = below
    return True


def _find_problem(data) -> None:
    stack = [(data, 1, None, "")]  # (container, depth, parent entry, key in parent)
    if type(data) not in (dict, list):
        problem = _string_problem(data) if type(data) is str else None
        if problem is not None:
            raise _json_limit("", *problem)
        return
    while stack:
        entry = stack.pop()
        container, depth = entry[0], entry[1]
        if depth > MAX_JSON_DEPTH:
            raise _json_limit(_path(entry), "too_deep",
                              f"The body nests JSON deeper than {MAX_JSON_DEPTH} levels.")
        items = container.items() if type(container) is dict else enumerate(container)
        for key, value in items:
            kind = type(value)
            problem = _string_problem(key) if type(key) is str else None
            if problem is None and (kind is dict or kind is list):
                stack.append((value, depth + 1, entry, key))
                continue
            if problem is None and kind is str:
                problem = _string_problem(value)
            elif problem is None and kind is float and not math.isfinite(value):
                problem = ("invalid_number", "Numbers must be finite (no NaN, Infinity or overflowing values).")
            if problem is not None:
                raise _json_limit(_path((None, 0, entry, key)), *problem)


def _path(entry) -> str:
    keys = []
    while entry is not None and entry[2] is not None:
        keys.append(str(entry[3]))
        entry = entry[2]
    return ".".join(reversed(keys))


def _string_problem(text: str) -> tuple[str, str] | None:
    if "\x00" in text:
        return "invalid_unicode", "Strings must not contain NUL characters."
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_unicode", "Strings must be valid Unicode (no lone surrogates such as \\ud800)."
    return None


def check_path_params(path_params: dict) -> None:
    """An id too long for a store key, or with control characters, cannot exist: a 404 with the
    code an unknown id of that kind gets from its service (`delivery_id` -> delivery_not_found)."""
    for name, value in path_params.items():
        if not isinstance(value, str) or len(value) > MAX_PATH_PARAM_CHARS or _CONTROL.search(value):
            bad = True
        else:
            try:
                value.encode("utf-8")
                bad = False
            except UnicodeEncodeError:
                bad = True
        if bad:
            kind = name.removesuffix("_id")
            raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")


def parse_body(request, model: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    raw = request.raw_body or b""
    if len(raw) > settings.max_body_bytes:
        raise PayloadTooLarge(f"The body is larger than {settings.max_body_bytes} bytes.",
                              code="body_too_large")
    try:
        data = json.loads(raw) if raw else {}
    except RecursionError:
        raise BadRequest(f"The body nests JSON deeper than {MAX_JSON_DEPTH} levels.",
                         code="too_deep", details={"path": ""}) from None
    except ValueError:
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from None
    check_json_values(data)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return parse_model(model, data)
