"""Key administration, straight against the store (for bootstrapping the first admin key).

    python -m tools.admin create-key --role requester [--owner OWNER_ID] [--name NAME] [--expires-at MS]
    python -m tools.admin revoke-key --key-id KEY_ID      (no secret needed)
    python -m tools.admin revoke-key --key SECRET
    python -m tools.admin sync-usage-plans [--key-id KEY_ID ...]   (API Gateway's mirrors of the keys)

Table names and the endpoint come from the environment (FOULE_TABLE_*, AWS_ENDPOINT_URL),
or from .local/stack.json when `make run` is going. Later keys are better made through
`POST /keys` with an admin key.
"""
import argparse
import json
import os
import sys

from tools.local_stack import LOCAL_DIR


def load_local_environment() -> None:
    stack_file = LOCAL_DIR / "stack.json"
    if "FOULE_TABLE_API_KEYS" not in os.environ and stack_file.exists():
        os.environ.update(json.loads(stack_file.read_text())["env"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create a key and print it once")
    create.add_argument("--role", choices=["admin", "requester", "worker"], required=True)
    create.add_argument("--owner", help="add a key to this existing owner id")
    create.add_argument("--name", default="")
    create.add_argument("--expires-at", type=int, help="epoch ms after which the key is refused")
    revoke = commands.add_parser("revoke-key", help="revoke a key: a running API refuses it within FOULE_CACHE_SECONDS (5 s)")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--key-id", help="the key's public id (key-...)")
    which.add_argument("--key", help="the secret itself")
    sync = commands.add_parser("sync-usage-plans", help="mirror keys in API Gateway's usage plans (default: every key)")
    sync.add_argument("--key-id", action="append", help="only this key (repeatable)")
    args = parser.parse_args(argv)

    load_local_environment()
    from chalicelib import auth  # after the environment names the tables

    if args.command == "sync-usage-plans":
        print(json.dumps({"synced": auth.sync_usage_plans(args.key_id)}))
        return 0
    if args.command == "create-key":
        secret, key = auth.create_key(args.role, args.owner, args.name, expires_at=args.expires_at)
        print(json.dumps({"key": secret, "key_id": key.key_id, "role": key.role, "owner_id": key.owner_id}))
        return 0
    if args.key_id:
        record = auth.get_record(args.key_id)
        found = record is not None
        if found:  # logged like an admin's revocation through the API, by "tools.admin"
            from chalicelib.services import keys

            actor = auth.Caller("admin", "tools.admin")
            auth.revoke(record, extra_puts=keys.audit_entries(actor, record, "key_revoked"))
    else:
        found = auth.revoke_key(args.key)
    if not found:
        print("no such key", file=sys.stderr)
        return 1
    print("revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
