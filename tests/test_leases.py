"""Lease ids (chalicelib/services/leases.py): sealed, the same shape for gold and real work, and
one read still finds the assignment; a forged id is a 404, another worker's a 403."""
import base64
import dataclasses
import json
import secrets

import boto3
import pytest

from chalicelib import sealing
from chalicelib import settings as settings_module
from chalicelib.errors import NotFound
from chalicelib.services import leases


def test_gold_and_real_lease_ids_have_the_same_length_and_say_nothing():
    for task_id in ("t", "task-0042", "a-much-longer-task-id-chosen-by-a-requester"):
        lengths = {len(leases.new_lease_id("p-1", task_id, "w-1", slot)) for slot in ("0", "1", "7", "42", "g")}
        assert len(lengths) == 1, (task_id, lengths)
    lease_id = leases.new_lease_id("p-1", "task-9", "w-1", "g")
    raw = base64.urlsafe_b64decode(lease_id + "=" * (-len(lease_id) % 4))
    assert b"p-1" not in raw and b"task-9" not in raw and b"w-1" not in raw
    assert leases.new_lease_id("p-1", "task-9", "w-1", "g") != lease_id  # a random nonce in each


def test_a_lease_id_opens_to_its_assignment_keys():
    for slot in ("0", "3", "g"):
        ref = leases.parse(leases.new_lease_id("p-é", "t/1", "w-1", slot))
        assert (ref.project_id, ref.task_id, ref.worker_id, ref.slot, ref.legacy) == ("p-é", "t/1", "w-1", slot, False)


def test_altered_and_forged_lease_ids_are_not_found():
    lease_id = leases.new_lease_id("p-1", "t-1", "w-1", "0")
    raw = bytearray(base64.urlsafe_b64decode(lease_id + "=" * (-len(lease_id) % 4)))
    raw[20] ^= 4
    forged_json = base64.urlsafe_b64encode(json.dumps(["p-1", "t-1", "w-1", "g", "x"]).encode()).decode()
    for forged in (base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), "", "x" * 40,
                   sealing.seal("lease", b"\x00" * 40)):
        with pytest.raises(NotFound):
            leases.parse(forged)
    assert leases.parse(forged_json).legacy  # an unsealed id: only its own assignment accepts it


def test_forged_is_404_and_anothers_is_403_over_http(api, make_project, add_tasks, new_key):
    project_id = make_project(overlap=2, gold_rate=0.5)
    add_tasks(project_id, [{"task_id": "r", "payload": {}}, {"task_id": "g", "payload": {}, "known_answer": "cat"}])
    holder, holder_id = new_key("worker")
    other, _ = new_key("worker")
    for task_id in ("r", "g"):
        status, lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", holder)
        assert status == 200, lease
        status, body = api.post(f"/leases/{lease['lease_id']}/answer", other, {"answer": "cat"})
        assert (status, body["error"]["code"]) == (403, "lease_not_yours")
        raw = bytearray(base64.urlsafe_b64decode(lease["lease_id"] + "=" * (-len(lease["lease_id"]) % 4)))
        raw[-1] ^= 1
        altered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
        status, body = api.post(f"/leases/{altered}/answer", holder, {"answer": "cat"})
        assert (status, body["error"]["code"]) == (404, "lease_not_found")
        # An unsealed id naming the holder's own assignment (the layout before sealing) finds
        # nothing either: only an id the assignment was issued with opens it.
        legacy = base64.urlsafe_b64encode(json.dumps([project_id, task_id, holder_id, "0", "n"]).encode()).decode()
        status, body = api.post(f"/leases/{legacy.rstrip('=')}/answer", holder, {"answer": "cat"})
        assert (status, body["error"]["code"]) == (404, "lease_not_found")


def test_the_secret_comes_from_secrets_manager_once_per_process(moto_endpoint, monkeypatch):
    client = boto3.client("secretsmanager", region_name=settings_module.settings.region)
    arn = client.create_secret(Name=f"foule-test-{secrets.token_hex(4)}", SecretString=secrets.token_hex(32))["ARN"]
    reads = []
    real_client = boto3.client

    def counting_client(service, *args, **kwargs):
        made = real_client(service, *args, **kwargs)
        if service == "secretsmanager":
            made.meta.events.register("before-call.secretsmanager.GetSecretValue", lambda **_: reads.append(1))
        return made

    monkeypatch.setattr(boto3, "client", counting_client)
    stored = dataclasses.replace(settings_module.settings, secret_arn=arn, secret_key_text="")
    monkeypatch.setattr(sealing, "settings", stored)
    sealing._keys.cache_clear()
    settings_module._stored_secret.cache_clear()
    try:
        token = sealing.seal("lease", b"one")
        assert sealing.unseal("lease", token) == b"one" and sealing.seal("other", b"two")
        assert len(reads) == 1
        sealing._keys.cache_clear()  # even with the derived keys forgotten: one read per process
        assert sealing.unseal("lease", token) == b"one" and len(reads) == 1
    finally:
        sealing._keys.cache_clear()
        settings_module._stored_secret.cache_clear()
