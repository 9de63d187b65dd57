"""Domain errors: what a service refuses, in words a coordinator understands. Views map them to 4xx."""


class DomainError(Exception):
    """A request the domain refuses. `code` is stable for APIs; the message is for people."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidTransition(DomainError):
    status = 409
    code = "invalid-transition"
