from typing import Literal

from pydantic import Field, model_validator

from chalicelib.schemas.common import Body, Identifier, Out

Role = Literal["admin", "requester", "worker", "integrator"]


class KeyCreate(Body):
    role: Role
    owner_id: Identifier | None = Field(None, description="Add a key to an existing owner; new owner if absent")
    name: str = Field("", max_length=200)
    project_ids: list[Identifier] | None = Field(
        None, min_length=1, max_length=100,
        description="integrator keys only (and required for them): the projects whose results it may read")

    @model_validator(mode="after")
    def scope_only_for_integrators(self):
        if (self.role == "integrator") != (self.project_ids is not None):
            raise ValueError("project_ids is required for an integrator key and allowed for no other role")
        return self


class KeyCreated(Out):
    key: str = Field(description="The secret: shown once, stored only as a hash")
    key_id: str
    role: Role
    owner_id: str
    project_ids: list[str] | None = None
