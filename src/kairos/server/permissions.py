"""Who is calling, and what they may change: the one place for the admin rules.

Everyone who can reach the controller's socket sees every job.  A job may be changed
(cancelled, held, requeued, updated) by its owner, by root, by the user the controller
runs as (a per-user controller serves its owner), and by the admins named in
``config.toml``; some changes (raising a time limit, setting a priority or a negative
nice value) are for admins alone.
"""

from __future__ import annotations

import functools
import grp
import pwd
from collections.abc import Iterable
from dataclasses import dataclass

from kairos.model.job import LiveJob


class PermissionDenied(PermissionError):
    """The caller may not do this (only a job's owner and admins may)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, from the Unix socket's peer credentials."""

    uid: int
    gid: int
    pid: int = 0

    @property
    def user(self) -> str:
        return user_name(self.uid)

    @property
    def group(self) -> str:
        return group_name(self.gid)


@functools.lru_cache(maxsize=1024)
def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@functools.lru_cache(maxsize=1024)
def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class Permissions:
    """The admin rules of one controller."""

    def __init__(self, admins: Iterable[str], controller_uid: int) -> None:
        self.admins = frozenset(admins)
        self.controller_uid = controller_uid

    def is_admin(self, caller: Caller) -> bool:
        return (caller.uid == 0 or caller.uid == self.controller_uid
                or caller.user in self.admins)

    def check_owner(self, job: LiveJob, caller: Caller) -> None:
        """Raise ``PermissionDenied`` unless ``caller`` may change ``job``."""
        if job.uid != caller.uid and not self.is_admin(caller):
            raise PermissionDenied(
                f"Access/permission denied: job {job.label} belongs to {job.user}, "
                f"not {caller.user}")

    def check_admin(self, caller: Caller, what: str) -> None:
        """Raise ``PermissionDenied`` naming ``what`` unless ``caller`` is an admin."""
        if not self.is_admin(caller):
            raise PermissionDenied(f"only an administrator may {what}")
