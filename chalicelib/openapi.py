"""The OpenAPI 3.1 description, generated from the routes and their pydantic schemas.

Built on the first GET /openapi.json (chalicelib.api.Api.openapi): it imports every schema."""
import re

from pydantic import BaseModel

from chalicelib.schemas.common import ErrorBody

ERROR_STATUSES = {"400": "Invalid request",
                  "401": "Missing or invalid API key or ID token (invalid_api_key, key_revoked, key_expired, "
                         "key_rotated, invalid_token, token_expired, account_disabled)",
                  "403": "Wrong role, or not the owner", "404": "Unknown id",
                  "409": "Conflict with the current state", "413": "Body too large",
                  "415": "Body is not application/json",
                  "429": "The key's rate limit or quota is used up (rate_limited, quota_exceeded): "
                         "nothing was done; resend after Retry-After seconds",
                  "503": "The store is busy: retry after Retry-After seconds"}


def build(routes, title: str, version: str) -> dict:
    components: dict = {}

    def ref(model: type[BaseModel]) -> dict:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}",
                                         mode="serialization")
        for name, definition in schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error_ref = ref(ErrorBody)
    paths: dict = {}
    for route in routes:
        body, query, response = route.body_model, route.query_model, route.response_model
        operation = {"operationId": route.name, "summary": route.summary,
                     "responses": {str(route.status): {"description": "Success"}}}
        if response is not None:
            operation["responses"][str(route.status)]["content"] = {
                "application/json": {"schema": ref(response)}}
        for status, text in ERROR_STATUSES.items():
            if route.roles or status in ("400", "404"):
                operation["responses"][status] = {"description": text,
                                                  "content": {"application/json": {"schema": error_ref}}}
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"{(\w+)}", route.path)]
        if query is not None:
            for name, field in query.model_fields.items():
                schema = query.model_json_schema()["properties"][name]
                parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": ref(body)}}}
        if route.roles:
            # Workers may also send the user pool's ID token (chalicelib/identity.py).
            operation["security"] = [{"apiKey": []}] + ([{"workerIdToken": []}] if "worker" in route.roles else [])
            operation["x-roles"] = list(route.roles)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": title, "version": version},
            "paths": paths,
            "components": {"schemas": components,
                           "securitySchemes": {
                               "apiKey": {"type": "http", "scheme": "bearer",
                                          "description": "Authorization: Bearer <API key>"},
                               "workerIdToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                 "description": "Authorization: Bearer <ID token> of the workers' "
                                                                "Cognito user pool (worker routes only; an "
                                                                "access token is refused)"}}}}
