"""The one error shape of the API: {"error": {"code", "message", "details"}}.

Services raise these; the route layer turns them into responses. `code` is stable and
machine-readable; `message` is for a person.
"""


class FouleError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(FouleError):
    status, code = 400, "bad_request"


class Unauthorized(FouleError):
    status, code = 401, "unauthorized"


class Forbidden(FouleError):
    status, code = 403, "forbidden"


class NotFound(FouleError):
    status, code = 404, "not_found"


class Conflict(FouleError):
    status, code = 409, "conflict"


class PayloadTooLarge(FouleError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(FouleError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(FouleError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(FouleError):
    status, code = 503, "service_unavailable"


class InternalError(FouleError):
    status, code = 500, "internal_error"
