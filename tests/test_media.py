"""Task media: presigned uploads to the private bucket, and the read URLs a lease carries.

moto does not check presigned signatures (tests/../pitfalls), so what a URL grants is checked
here by recomputing its SigV4 signature with botocore at the URL's own timestamp: the URL S3
would accept for a key is the only one that verifies."""
import base64
import datetime
import urllib.request
from unittest import mock
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

# A 1x1 transparent PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
IMAGE_VIEW = [{"type": "image", "field": "photo", "label": "Photo"}, {"type": "text", "field": "caption"}]


def upload(api, key, project_id, data=PNG, content_type="image/png"):
    status, created = api.post(f"/projects/{project_id}/media", key,
                               {"content_type": content_type, "size_bytes": len(data), "filename": "cat.png"})
    assert status == 201, created
    request = urllib.request.Request(created["upload_url"], data=data, method="PUT", headers=created["headers"])
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return created["media_key"]


def fetch(url) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), response.headers["Content-Type"]


def query(url) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def signature_verifies(url: str, method: str = "get_object") -> bool:
    """Whether `url` carries the signature S3 computes for the key in its path (at the URL's
    own time and lifetime): S3 in AWS accepts exactly those URLs."""
    from chalicelib.services import media

    parts, params = urlsplit(url), query(url)
    bucket, key = unquote(parts.path).lstrip("/").split("/", 1)
    signed_at = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        fresh = media._s3().generate_presigned_url(method, ExpiresIn=int(params["X-Amz-Expires"]),
                                                   Params={"Bucket": bucket, "Key": key})
    return query(fresh)["X-Amz-Signature"] == params["X-Amz-Signature"]


def test_upload_task_lease_and_read_back_the_same_bytes(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(view=IMAGE_VIEW)
    key = upload(api, requester, project_id)
    assert add_tasks(project_id, [{"task_id": "t1", "payload": {"photo": key, "caption": "a cat?"}}])["created"] == 1
    worker, _ = new_key("worker")
    status, lease = api.post("/work/next", worker, {"project_id": project_id})
    assert status == 200, lease
    assert set(lease["media"]) == {"photo"} and lease["view"] == IMAGE_VIEW
    assert fetch(lease["media"]["photo"]) == (PNG, "image/png")
    assert signature_verifies(lease["media"]["photo"])
    params = query(lease["media"]["photo"])
    from chalicelib.settings import settings
    assert int(params["X-Amz-Expires"]) == settings.media_url_seconds <= 900  # short-lived


def test_the_upload_url_binds_type_size_and_an_unguessable_key(api, requester, make_project):
    from chalicelib.settings import settings

    project_id = make_project()
    body = {"content_type": "image/png", "size_bytes": 1234, "filename": "gold_answer_is_cat.png"}
    status, first = api.post(f"/projects/{project_id}/media", requester, body)
    assert status == 201, first
    second = api.post(f"/projects/{project_id}/media", requester, body)[1]
    params = query(first["upload_url"])
    assert params["X-Amz-SignedHeaders"] == "content-length;content-type;host"
    assert int(params["X-Amz-Expires"]) == settings.media_upload_seconds
    assert first["headers"] == {"Content-Type": "image/png"} and first["method"] == "PUT"
    assert first["media_key"].startswith(f"media/{project_id}/") and first["media_key"].endswith(".png")
    assert first["media_key"] != second["media_key"]
    assert "gold" not in first["media_key"] and "cat" not in first["media_key"]  # the name is never in the key
    assert unquote(urlsplit(first["upload_url"]).path) == f"/{settings.media_bucket}/{first['media_key']}"
    assert not signature_verifies(first["upload_url"])  # an upload URL reads nothing


@pytest.mark.parametrize("body, status, code", [
    ({"content_type": "text/html", "size_bytes": 10}, 400, "media_type_not_allowed"),
    ({"content_type": "image/svg+xml", "size_bytes": 10}, 400, "media_type_not_allowed"),
    ({"content_type": "video/mp4", "size_bytes": 20 * 1024 * 1024 + 1}, 400, "media_too_large"),
    ({"content_type": "image/png", "size_bytes": 0}, 400, "validation_error"),
    ({"content_type": "image/png"}, 400, "validation_error"),
])
def test_uploads_outside_the_limits_are_refused(api, requester, make_project, body, status, code):
    project_id = make_project()
    got, error = api.post(f"/projects/{project_id}/media", requester, body)
    assert (got, error["error"]["code"]) == (status, code), error


def test_only_the_owner_asks_for_uploads(api, make_project, new_key):
    project_id = make_project()
    other, _ = new_key("requester")
    worker, _ = new_key("worker")
    body = {"content_type": "image/png", "size_bytes": 10}
    assert api.post(f"/projects/{project_id}/media", other, body)[0] == 404
    assert api.post(f"/projects/{project_id}/media", worker, body)[0] == 403


def test_a_requester_cannot_reference_another_projects_media(api, requester, make_project, add_tasks, new_key):
    """The attacker: a requester who knows (or guesses) media keys of a project not its own."""
    victim, _ = new_key("requester")
    victims_project = make_project(key=victim, view=IMAGE_VIEW)
    victims_key = upload(api, victim, victims_project)
    own = make_project(view=IMAGE_VIEW)
    own_other = make_project(view=IMAGE_VIEW)
    own_key_elsewhere = upload(api, requester, own_other)
    prefix = f"media/{own}/"
    forged = prefix + victims_key.rsplit("/", 1)[1]  # the victim's file name under this project
    invented = prefix + "A" * 38 + ".png"
    result = add_tasks(own, [{"task_id": f"t{i}", "payload": {"photo": key, "caption": "x"}}
                             for i, key in enumerate([victims_key, own_key_elsewhere, forged, invented,
                                                      "media/../" + victims_key])])
    assert result["created"] == 0
    assert [(e["index"], e["code"]) for e in result["errors"]] == [(i, "invalid_media_key") for i in range(5)]


def test_a_worker_gets_urls_for_its_own_tasks_media_only(api, requester, make_project, add_tasks, new_key):
    """The attacker: a worker collecting every URL it is given, looking for another task's file."""
    project_id = make_project(view=IMAGE_VIEW, overlap=1)
    keys = {f"t{i}": upload(api, requester, project_id, data=PNG + bytes([i])) for i in range(3)}
    add_tasks(project_id, [{"task_id": t, "payload": {"photo": k, "caption": t}} for t, k in keys.items()])
    worker, _ = new_key("worker")
    leases = [api.post(f"/projects/{project_id}/tasks/{t}/lease", worker)[1] for t in ("t0", "t1")]
    for lease in leases:
        url = lease["media"]["photo"]
        own_key = keys[lease["task_id"]]
        assert unquote(urlsplit(url).path).endswith("/" + own_key)
        assert fetch(url)[0] == PNG + bytes([int(lease["task_id"][1])])
        # Its own URL with another task's key in the path: S3 would refuse the signature.
        stolen = url.replace(own_key, keys["t2"])
        assert signature_verifies(url) and not signature_verifies(stolen)
    received = str(leases)
    assert keys["t2"] not in received  # the unleased task's key appears nowhere
    # An image given as an https URL is shown as is: no presigned URL for it.
    add_tasks(project_id, [{"task_id": "web", "payload": {"photo": "https://example.com/c.png", "caption": "x"}}])
    lease = api.post(f"/projects/{project_id}/tasks/web/lease", worker)[1]
    assert lease["media"] == {} and lease["payload"]["photo"] == "https://example.com/c.png"


def test_media_on_gold_tasks_works_as_on_real_ones(api, requester, make_project, add_tasks, new_key):
    project_id = make_project(view=IMAGE_VIEW, overlap=1, gold_rate=0.5)
    gold_key, real_key = upload(api, requester, project_id), upload(api, requester, project_id)
    add_tasks(project_id, [{"task_id": "g", "payload": {"photo": gold_key, "caption": "x"}, "known_answer": "cat"},
                           {"task_id": "r", "payload": {"photo": real_key, "caption": "x"}}])
    worker, _ = new_key("worker")
    gold = api.post(f"/projects/{project_id}/tasks/g/lease", worker)[1]
    real = api.post(f"/projects/{project_id}/tasks/r/lease", worker)[1]
    assert sorted(gold) == sorted(real) and gold["view"] == real["view"]
    assert set(gold["media"]) == set(real["media"]) == {"photo"}
    shape = lambda url: sorted((k, len(v)) for k, v in query(url).items() if k != "X-Amz-Date")  # noqa: E731
    assert shape(gold["media"]["photo"]) == shape(real["media"]["photo"])
    assert fetch(gold["media"]["photo"])[0] == fetch(real["media"]["photo"])[0] == PNG
