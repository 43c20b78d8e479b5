"""What a request may be refused with besides a bad value (``SubmitError``) or a
missing right (``PermissionDenied``): it names something that does not exist."""

from __future__ import annotations


class NotFound(KeyError):
    """No such job."""

    def __str__(self) -> str:
        return str(self.args[0])
