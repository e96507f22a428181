"""How a task is shown: a project's `view` (blocks rendered top to bottom, then the answer
widget of its kind), its optional `payload_schema` (a JSON Schema subset checked on upload), and
the bodies of the media upload route. chalicelib/services/views.py checks tasks against them."""
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_serializer, model_validator

from chalicelib.schemas.common import Body, Out

MAX_BLOCKS = 30
MAX_SCHEMA_PROPERTIES = 100
FIELD_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$"
FieldName = Annotated[str, Field(pattern=FIELD_PATTERN, description="A payload field (top level)")]


class _Block(Body):
    field: FieldName | None = Field(None, description="Take the content from this payload field")
    value: str | None = Field(None, max_length=10_000, description="Or give it literally")
    label: str | None = Field(None, max_length=200, description="A caption shown above the block")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.field is None) == (self.value is None):
            raise ValueError("a block takes exactly one of `field` or `value`")
        return self

    @model_serializer(mode="wrap")
    def _given_only(self, handler):
        """{"type", "field"} or {"type", "value"}, and "label" if any: no nulls for the client."""
        return {name: value for name, value in handler(self).items() if value is not None}


class TextBlock(_Block):
    """Markdown (paragraphs, **bold**, *italic*, `code`, lists, headings, http(s) links); the
    client escapes every HTML tag. A field may hold a string, a number or a boolean."""
    type: Literal["text"]


class _UrlBlock(_Block):
    @model_validator(mode="after")
    def _https_value(self):
        if self.value is not None and not self.value.startswith("https://"):
            raise ValueError("a literal media or link value must be an https:// URL")
        return self


class ImageBlock(_UrlBlock):
    """A media key of the project (its presigned URL is in the lease's `media`) or an https URL."""
    type: Literal["image"]


class AudioBlock(_UrlBlock):
    """A media key of the project (its presigned URL is in the lease's `media`) or an https URL."""
    type: Literal["audio"]


class VideoBlock(_UrlBlock):
    """A media key of the project (its presigned URL is in the lease's `media`) or an https URL."""
    type: Literal["video"]


class LinkBlock(_UrlBlock):
    """An https URL, opened outside the app."""
    type: Literal["link"]


Block = Annotated[Union[TextBlock, ImageBlock, AudioBlock, VideoBlock, LinkBlock], Field(discriminator="type")]
MEDIA_BLOCKS = ("image", "audio", "video")
View = Annotated[list[Block], Field(min_length=1, max_length=MAX_BLOCKS, description=(
    "Blocks shown top to bottom, then the answer widget of the project's kind. Without a view, "
    "each task is shown as one text block per payload field"))]


# --- payload_schema: the JSON Schema subset ------------------------------------------------
SimpleType = Literal["string", "number", "integer", "boolean"]


class _Constraints(Body):
    enum: list[str | int | float | bool] | None = Field(None, min_length=1, max_length=1000)
    minimum: float | None = None
    maximum: float | None = None
    minLength: int | None = Field(None, ge=0)
    maxLength: int | None = Field(None, ge=0)
    description: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self):
        numeric = ("number", "integer")
        if (self.minimum is not None or self.maximum is not None) and self.type not in numeric:
            raise ValueError(f"minimum and maximum apply to numbers, not to type {self.type!r}")
        if (self.minLength is not None or self.maxLength is not None) and self.type != "string":
            raise ValueError(f"minLength and maxLength apply to strings, not to type {self.type!r}")
        if None not in (self.minimum, self.maximum) and self.minimum > self.maximum:
            raise ValueError("minimum is greater than maximum")
        if None not in (self.minLength, self.maxLength) and self.minLength > self.maxLength:
            raise ValueError("minLength is greater than maxLength")
        if self.enum is not None and self.type not in ("string", "number", "integer"):
            raise ValueError(f"enum applies to strings and numbers, not to type {self.type!r}")
        return self


class ItemSchema(_Constraints):
    type: SimpleType


class PropertySchema(_Constraints):
    type: Literal["string", "number", "integer", "boolean", "array"]
    items: ItemSchema | None = Field(None, description="For an array: the type of its items")
    minItems: int | None = Field(None, ge=0)
    maxItems: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _array(self):
        if self.type == "array" and self.items is None:
            raise ValueError("an array property needs `items` (of a simple type)")
        if self.type != "array" and (self.items or self.minItems is not None or self.maxItems is not None):
            raise ValueError("items, minItems and maxItems apply to arrays only")
        return self


class PayloadSchema(Body):
    """A JSON Schema subset: an object whose properties are strings, numbers, integers,
    booleans or arrays of those, with required, enum, minimum/maximum, minLength/maxLength,
    minItems/maxItems and additionalProperties. Anything else is refused."""
    type: Literal["object"]
    properties: dict[Annotated[str, Field(pattern=FIELD_PATTERN)], PropertySchema] = Field(
        max_length=MAX_SCHEMA_PROPERTIES)
    required: list[str] = Field(default_factory=list, max_length=MAX_SCHEMA_PROPERTIES)
    additionalProperties: bool = Field(True, description="false: a payload field not in properties is refused")
    description: str | None = Field(None, max_length=1000)

    @model_validator(mode="before")
    @classmethod
    def _ignore_dialect(cls, data):
        """A schema pasted with its "$schema" URI is welcome: the URI is dropped."""
        if isinstance(data, dict) and "$schema" in data:
            data = {k: v for k, v in data.items() if k != "$schema"}
        return data

    @model_validator(mode="after")
    def _required_declared(self):
        missing = [name for name in self.required if name not in self.properties]
        if missing:
            raise ValueError(f"required names fields not in properties: {', '.join(missing)}")
        return self


# --- Media: presigned uploads of a project's input files ----------------------------------
MEDIA_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
               "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/wav": "wav", "audio/webm": "weba",
               "video/mp4": "mp4", "video/webm": "webm"}


class MediaUpload(Body):
    content_type: str = Field(max_length=100, description=f"One of {', '.join(MEDIA_TYPES)}")
    size_bytes: int = Field(ge=1, description="The file's exact size (bound into the upload URL)")
    filename: str | None = Field(None, max_length=255, description=(
        "Your name for the file, returned as given; never stored nor shown to workers (a name "
        "such as gold_3.png would tell them too much)"))


class MediaUploadOut(Out):
    media_key: str = Field(description="Put it in a task's payload field that an image, audio or video block names")
    upload_url: str = Field(description="PUT the file's bytes here, with `headers`, before expires_at")
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str] = Field(description="Headers the PUT must send (signed into the URL)")
    expires_at: int = Field(description="Epoch milliseconds")
    filename: str | None = None


def payload_value_type(value: Any) -> str:
    """The JSON type name of a payload value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"
