"""A project's input files (images, audio, video) in the private media bucket.

A requester asks for an upload (POST /projects/{id}/media) and PUTs the bytes to the presigned
URL it gets: the content type and the exact size are signed into it, so S3 refuses any other
file. The media key names the object:

    media/<project_id>/<22 random chars><16-char tag>.<ext>

The tag is a keyed hash (sealing.digest) of the rest: only keys this deployment issued for this
project verify, so a requester cannot reference another project's file, nor invent a key, and a
key says nothing of the file (no name: "gold_3.png" would tell a worker too much). A lease
carries a short-lived presigned GET URL for each media key of its own task (services/views).
The bucket is never public.
"""
import base64
import functools
import hmac
import re
import secrets

from chalicelib import sealing
from chalicelib.errors import BadRequest, Conflict
from chalicelib.models.base import now_ms
from chalicelib.schemas.views import MEDIA_TYPES, MediaUpload, MediaUploadOut
from chalicelib.settings import settings

PREFIX = "media/"
TOKEN_CHARS, TAG_BYTES = 22, 12  # 128 random bits; a 96-bit tag
KEY_PATTERN = re.compile(r"^media/(?P<project>[A-Za-z0-9._:\-]{1,128})/(?P<token>[A-Za-z0-9_-]{22})"
                         r"(?P<tag>[A-Za-z0-9_-]{16})\.(?P<ext>[a-z0-9]{2,4})$")


@functools.cache
def _s3():
    import boto3  # first used by a media request: not paid at cold start
    from botocore.config import Config

    return boto3.client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))


def _tag(project_id: str, token: str, ext: str) -> str:
    digest = sealing.digest("media-key", f"{project_id}/{token}.{ext}".encode())[:TAG_BYTES]
    return base64.urlsafe_b64encode(digest).decode()


def new_key(project_id: str, ext: str) -> str:
    token = secrets.token_urlsafe(16)
    return f"{PREFIX}{project_id}/{token}{_tag(project_id, token, ext)}.{ext}"


def looks_like_key(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def belongs_to(project_id: str, key: str) -> bool:
    """Whether `key` is a media key this deployment issued for this project."""
    match = KEY_PATTERN.match(key) if isinstance(key, str) else None
    return bool(match) and match["project"] == project_id and \
        hmac.compare_digest(match["tag"], _tag(project_id, match["token"], match["ext"]))


def create_upload(project, body: MediaUpload) -> MediaUploadOut:
    """An upload URL for one file of `project` (the caller's own: see app.py)."""
    project_id = project.project_id
    if project.status == "closed":
        raise Conflict("The project is closed.", code="project_closed")
    content_type = body.content_type.strip().lower()
    if content_type not in MEDIA_TYPES:
        raise BadRequest(f"Files of type {body.content_type!r} are not accepted; send one of "
                         f"{', '.join(MEDIA_TYPES)}.", code="media_type_not_allowed",
                         details={"allowed": list(MEDIA_TYPES)})
    if body.size_bytes > settings.media_max_bytes:
        raise BadRequest(f"A file may be at most {settings.media_max_bytes} bytes.", code="media_too_large",
                         details={"max_bytes": settings.media_max_bytes})
    key = new_key(project_id, MEDIA_TYPES[content_type])
    url = _s3().generate_presigned_url(
        "put_object", ExpiresIn=settings.media_upload_seconds,
        Params={"Bucket": settings.media_bucket, "Key": key, "ContentType": content_type,
                "ContentLength": body.size_bytes})
    return MediaUploadOut(media_key=key, upload_url=url, headers={"Content-Type": content_type},
                          expires_at=now_ms() + settings.media_upload_seconds * 1000, filename=body.filename)


def read_url(key: str) -> str:
    """A presigned GET URL of one media object, valid settings.media_url_seconds."""
    return _s3().generate_presigned_url("get_object", ExpiresIn=settings.media_url_seconds,
                                        Params={"Bucket": settings.media_bucket, "Key": key})
