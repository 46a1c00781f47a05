"""Domain errors: a stable machine code, a message fit to show a person, the field at fault.

They know nothing about HTTP. The API layer's problem table (``payments_site.problems``) maps
each error to a status, a title and a problem type; the domain only says what went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

# A shared service that does not answer (Redis: counters, cool-offs, throttles). Work that
# needs it is refused as ``ServiceUnavailable`` rather than done without the limits that guard it.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (RedisError,)


@dataclass(frozen=True)
class FieldError:
    """One invalid input: which field, a stable code and a message fit to show a person."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": str(self.message)}


class DomainError(Exception):
    """Base of every error a client may see. The message never carries card data.

    ``code`` is the class's unless given; ``field`` names the input at fault (it becomes the
    one entry of ``errors`` unless a list is given); ``retry_after`` says, in seconds, when
    trying again makes sense. ``problem`` names the problem-table row when several codes of
    one class share it (a token that cannot be charged, whatever the reason); by default the
    row is the code's.
    """

    code: str = "bad_request"
    problem: str = ""

    def __init__(
        self,
        message: str = "",
        *,
        code: str = "",
        field: str = "",
        errors: Sequence[FieldError] = (),
        retry_after: int | None = None,
    ) -> None:
        self.code = code or type(self).code
        self.message = str(message)
        self.field = field or (errors[0].field if len(errors) == 1 else "")
        self.errors = list(errors) or (
            [FieldError(field, self.code, self.message)] if field else []
        )
        self.retry_after = retry_after
        super().__init__(self.message or self.code)

    @property
    def problem_key(self) -> str:
        return self.problem or self.code


class InvalidInput(DomainError):
    """The input is not valid; ``errors`` names every field at fault."""

    code = "validation_error"


class ServiceUnavailable(DomainError):
    """A service the work needs does not answer; nothing was done, try again shortly."""

    code = "service_unavailable"
