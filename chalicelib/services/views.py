"""How a task is shown: the checks a task's payload passes on upload, so that every task served
can be rendered by its project's view, and what a lease carries to render it.

On upload (services/tasks) a payload must satisfy the project's payload_schema (the JSON Schema
subset of schemas/views.PayloadSchema, checked here by hand: a few lines, no import at cold
start) and its view: each field a block names is present and of a type the block can show, and
a media block's field holds a media key of this project (services/media) or an https URL.
A refused task is reported by its index and never stored.
"""
from chalicelib.errors import BadRequest
from chalicelib.schemas.views import MEDIA_BLOCKS, PayloadSchema, payload_value_type
from chalicelib.services import media

TEXT_TYPES = ("string", "number", "integer", "boolean")
MAX_URL_CHARS = 2048


# --- Declared on a project ------------------------------------------------------------------
def check_declaration(view: list | None, schema: PayloadSchema | None) -> None:
    """With both a view and a schema, every field the view names must be a property the schema
    declares with a type its block can show: a mistake is caught before any task is sent."""
    if not view or schema is None:
        return
    for index, block in enumerate(view):
        if block.field is None:
            continue
        prop = schema.properties.get(block.field)
        wanted = TEXT_TYPES if block.type == "text" else ("string",)
        if prop is None or prop.type not in wanted:
            found = "is not declared" if prop is None else f"is of type {prop.type}"
            raise BadRequest(f"The view's block {index} ({block.type}) shows field {block.field!r}, which "
                             f"payload_schema {found}; it must be {' or '.join(wanted)}.",
                             code="view_schema_mismatch", details={"block": index, "field": block.field})


# --- Checked on upload ------------------------------------------------------------------------
def check_payload(project, payload: dict) -> None:
    """Refuse (400) a payload the project's schema or view refuses; `project` as stored."""
    if project.payload_schema:
        check_schema(project.payload_schema, payload)
    for index, block in enumerate(project.view or ()):
        if "field" in block:
            _check_block(project.project_id, index, block, payload)


def _schema_error(path: str, constraint: str, message: str) -> BadRequest:
    return BadRequest(f"payload.{path}: {message}", code="invalid_payload",
                      details={"rule": "payload_schema", "path": path, "constraint": constraint})


def check_schema(schema: dict, payload: dict) -> None:
    """Validate `payload` against a stored payload_schema (a valid PayloadSchema, dumped)."""
    properties = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in payload:
            raise _schema_error(name, "required", "is required")
    if schema.get("additionalProperties") is False:
        extra = sorted(set(payload) - set(properties))
        if extra:
            raise _schema_error(extra[0], "additionalProperties", "is not a field of payload_schema")
    for name, prop in properties.items():
        if name in payload:
            _check_value(name, prop, payload[name])


def _check_value(path: str, prop: dict, value) -> None:
    kind, wanted = payload_value_type(value), prop["type"]
    fits = kind == wanted or (wanted == "number" and kind == "integer") or \
        (wanted == "integer" and kind == "number" and float(value).is_integer())
    if not fits:
        raise _schema_error(path, "type", f"must be of type {wanted}, not {kind}")
    if "enum" in prop and not any(value == choice and not isinstance(choice, bool) for choice in prop["enum"]):
        raise _schema_error(path, "enum", f"must be one of {prop['enum']}")
    for name, ok, text in (("minimum", lambda v, lim: v >= lim, "at least"),
                           ("maximum", lambda v, lim: v <= lim, "at most"),
                           ("minLength", lambda v, lim: len(v) >= lim, "at least this many characters:"),
                           ("maxLength", lambda v, lim: len(v) <= lim, "at most this many characters:"),
                           ("minItems", lambda v, lim: len(v) >= lim, "at least this many items:"),
                           ("maxItems", lambda v, lim: len(v) <= lim, "at most this many items:")):
        if name in prop and not ok(value, prop[name]):
            raise _schema_error(path, name, f"must be {text} {prop[name]}")
    if wanted == "array":
        for position, item in enumerate(value):
            _check_value(f"{path}.{position}", prop["items"], item)


def _unrenderable(index: int, block: dict, message: str) -> BadRequest:
    return BadRequest(f"The view's block {index} ({block['type']}) cannot show this task: {message}",
                      code="unrenderable_payload", details={"block": index, "field": block["field"]})


def _check_block(project_id: str, index: int, block: dict, payload: dict) -> None:
    field = block["field"]
    value = payload.get(field)
    if value is None:
        raise _unrenderable(index, block, f"payload field {field!r} is missing.")
    kind = payload_value_type(value)
    if block["type"] == "text":
        if kind not in TEXT_TYPES:
            raise _unrenderable(index, block, f"{field!r} holds a {kind}; a text block shows a string, "
                                              "a number or a boolean.")
        return
    if kind != "string" or len(value) > MAX_URL_CHARS:
        raise _unrenderable(index, block, f"{field!r} must hold a string of at most {MAX_URL_CHARS} characters.")
    if block["type"] in MEDIA_BLOCKS and media.looks_like_key(value):
        if not media.belongs_to(project_id, value):
            raise BadRequest(f"payload.{field} is not a media key of this project: upload the file with "
                             "POST /projects/{project_id}/media and use the media_key it returns.",
                             code="invalid_media_key", details={"block": index, "field": field})
        return
    if not value.startswith("https://"):
        what = "a media key of this project or an https:// URL" if block["type"] in MEDIA_BLOCKS \
            else "an https:// URL"
        raise _unrenderable(index, block, f"{field!r} must hold {what}.")


# --- Carried by a lease -----------------------------------------------------------------------
def lease_view(project, payload: dict) -> list[dict]:
    """The project's view, or the default: one text block per payload field."""
    if project.view:
        return project.view
    return [{"type": "text", "field": name, "label": name} for name in payload]


def lease_media(project, payload: dict) -> dict[str, str]:
    """{payload field: presigned GET URL} for the media keys of this task, and only those: the
    fields a media block of the view names that hold a key of this project."""
    fields = sorted({block["field"] for block in project.view or () if block["type"] in MEDIA_BLOCKS
                     and "field" in block})
    return {field: media.read_url(payload[field]) for field in fields
            if media.belongs_to(project.project_id, payload.get(field))}
