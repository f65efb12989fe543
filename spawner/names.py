"""Hub username -> the names of that user's playground resources. Pure: no AWS, no hub.

Every name is derived from one *slug* of the username:

- a username that already is a clean slug (lowercase ASCII letters and digits, single inner hyphens,
  at most :data:`MAX_CLEAN_SLUG` characters) is used as it is: ``alice`` -> ``alice``;
- any other username loses information when slugged (case, odd characters, length), so the slug is a
  readable part, a hyphen and a hash of the full username: ``Alice Smith`` -> ``alice-smith-8ae10dfc``.
  A username that looks clean but ends like a hashed slug (``-`` and 8 hex digits) is hashed too, so a
  hashed slug can never equal a clean one, and two hashed slugs differ whenever the usernames' hashes differ:
  the mapping is injective up to a 32-bit hash collision. (Not ``--`` as the separator: target group names
  forbid it.)

The resource names then are ``<prefix>-<slug>`` plus a suffix. Their lengths fit every service's limit
(CloudFormation stack 128, DynamoDB table 3-255, IAM role 64, ELBv2 target group 32, PostgreSQL identifier 63
bytes). These names are a stable contract across releases: changing them would orphan every existing
playground, and tests pin a few exact values.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

DEFAULT_PREFIX = "profiler"
MAX_PREFIX = 11  # "<prefix>-<slug>" must fit a 32-character target group name
MAX_CLEAN_SLUG = 20
HASH_LENGTH = 8
HASH_SEPARATOR = "-"
MAX_READABLE = MAX_CLEAN_SLUG - len(HASH_SEPARATOR) - HASH_LENGTH  # 11: as long as the longest clean slug

CLEAN_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOOKS_HASHED = re.compile(rf"-[0-9a-f]{{{HASH_LENGTH}}}$")
PREFIX_PATTERN = re.compile(rf"^[a-z][a-z0-9]{{0,{MAX_PREFIX - 1}}}$")

LOADTEST_SUFFIX = "loadtest"
RUNS_SUFFIX = "runs"
ROLE_SUFFIX = "server"


def _ascii_readable(username: str) -> str:
    """Lowercase ASCII letters/digits joined by single hyphens; accents are folded (é -> e), the rest dropped."""
    folded = unicodedata.normalize("NFKD", username).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")


def username_hash(username: str) -> str:
    return hashlib.sha256(username.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def slug(username: str) -> str:
    """The short, readable, injective stand-in for ``username`` inside resource names."""
    if not isinstance(username, str) or not username:
        raise ValueError(f"a username must be a non-empty string, got {username!r}")
    if len(username) <= MAX_CLEAN_SLUG and CLEAN_SLUG.match(username) and not LOOKS_HASHED.search(username):
        return username
    readable = _ascii_readable(username)[:MAX_READABLE].strip("-") or "user"
    return f"{readable}{HASH_SEPARATOR}{username_hash(username)}"


def check_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.match(prefix or ""):
        raise ValueError(
            f"name prefix {prefix!r} must be a lowercase letter followed by at most {MAX_PREFIX - 1} lowercase "
            "letters or digits (it starts every stack, table, role and target group name)"
        )
    return prefix


@dataclass(frozen=True)
class PlaygroundNames:
    """Every name of one user's playground. ``stack`` is also the target group's name."""

    username: str
    prefix: str
    slug: str

    @property
    def stack(self) -> str:
        return f"{self.prefix}-{self.slug}"

    @property
    def loadtest_table(self) -> str:
        return f"{self.stack}-{LOADTEST_SUFFIX}"

    @property
    def runs_table(self) -> str:
        return f"{self.stack}-{RUNS_SUFFIX}"

    @property
    def role(self) -> str:
        return f"{self.stack}-{ROLE_SUFFIX}"

    @property
    def target_group(self) -> str:
        return self.stack

    @property
    def schema(self) -> str:
        """PostgreSQL schema (and role) of the user's own data: lowercase, underscores, no quoting needed."""
        return self.stack.replace("-", "_")

    @property
    def session_name(self) -> str:
        """STS role session name: shows up in CloudTrail as who did what."""
        return self.stack


def for_user(username: str, prefix: str = DEFAULT_PREFIX) -> PlaygroundNames:
    return PlaygroundNames(username=username, prefix=check_prefix(prefix), slug=slug(username))
