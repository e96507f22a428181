"""Bodies of the results routes: a published run's manifest and presigned URLs of its files, and its report."""
from pydantic import Field

from chalicelib.schemas.common import Out


class ResultFile(Out):
    url: str = Field(description="Presigned GET URL")
    key: str = Field(description="The object's key in the results bucket")
    bytes: int
    sha256: str = Field(description="Hex SHA-256 of the file: check it after downloading")


class Results(Out):
    project_id: str
    run_id: str
    created_at: int = Field(description="Epoch milliseconds")
    method: str
    latest: bool = Field(True, description="Whether this run is the one latest.json names")
    manifest: dict = Field(description="The run's manifest.json: method, parameters, counts, files")
    files: dict[str, ResultFile]


class Report(Out):
    project_id: str
    run_id: str
    created_at: int = Field(description="Epoch milliseconds")
    latest: bool = Field(True, description="Whether this run is the one latest.json names")
    url: str = Field(description="Presigned GET URL of report.html: one self-contained page that opens offline")
    key: str = Field(description="The object's key in the results bucket")
    bytes: int
    sha256: str = Field(description="Hex SHA-256 of the file, as listed in the run's manifest")
