"""Key administration, straight against the store (for bootstrapping the first admin key).

    python -m tools.admin create-key --role requester [--owner OWNER_ID] [--name NAME]
    python -m tools.admin revoke-key --key SECRET

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
    revoke = commands.add_parser("revoke-key", help="revoke a key: a running API refuses it within FOULE_CACHE_SECONDS (5 s)")
    revoke.add_argument("--key", required=True)
    args = parser.parse_args(argv)

    load_local_environment()
    from chalicelib import auth  # after the environment names the tables

    if args.command == "create-key":
        secret, key = auth.create_key(args.role, args.owner, args.name)
        print(json.dumps({"key": secret, "key_id": key.key_id, "role": key.role, "owner_id": key.owner_id}))
        return 0
    if not auth.revoke_key(args.key):
        print("no such key", file=sys.stderr)
        return 1
    print("revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
