from typing import Literal

from pydantic import Field

from chalicelib.schemas.common import Body, Identifier, Out

Role = Literal["admin", "requester", "worker"]


class KeyCreate(Body):
    role: Role
    owner_id: Identifier | None = Field(None, description="Add a key to an existing owner; new owner if absent")
    name: str = Field("", max_length=200)


class KeyCreated(Out):
    key: str = Field(description="The secret: shown once, stored only as a hash")
    key_id: str
    role: Role
    owner_id: str
