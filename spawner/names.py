"""Hub username -> the names of that user's playground resources. Pure: no AWS, no hub.

Every name is derived from one *slug* of the username:

- a username that already is a clean slug (lowercase ASCII letters and digits, single inner hyphens,
  at most :data:`MAX_CLEAN_SLUG` characters) is used as it is: ``alice`` -> ``alice``;
- any other username loses information when slugged (case, odd characters, length), so the slug is a
  readable part, a hyphen and a 64-bit hash of the full username (13 base32 characters):
  ``Alice Smith`` -> ``alice-rlqq37e2nh4x2``. A username that looks clean but ends like a hashed slug is hashed
  too, so a hashed slug can never equal a clean one, and two hashed slugs differ whenever the usernames' 64-bit
  hashes differ: a collision needs about four billion users to become likely. (Not ``--`` as the separator:
  target group names forbid it.)

Earlier releases hashed with 32 bits (8 hex digits, :func:`legacy_slug`); resources made then keep their names
(the spawner adopts a playground and a database space by their old names, see ``for_user(..., legacy=True)``).

The resource names then are ``<prefix>-<slug>`` plus a suffix. Their lengths fit every service's limit
(CloudFormation stack 128, DynamoDB table 3-255, IAM role 64, ELBv2 target group 32, PostgreSQL identifier 63
bytes, Linux user name 32). These names are a stable contract across releases: changing them would orphan every
existing playground, and tests pin a few exact values.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from dataclasses import dataclass

DEFAULT_PREFIX = "profiler"
MAX_PREFIX = 11  # "<prefix>-<slug>" must fit a 32-character target group name
MAX_CLEAN_SLUG = 20
HASH_LENGTH = 13  # base32 characters of a 64-bit digest
LEGACY_HASH_LENGTH = 8  # hex digits: the 32-bit hash of earlier releases
HASH_SEPARATOR = "-"
MAX_READABLE = MAX_CLEAN_SLUG - len(HASH_SEPARATOR) - HASH_LENGTH  # 6
LEGACY_MAX_READABLE = MAX_CLEAN_SLUG - len(HASH_SEPARATOR) - LEGACY_HASH_LENGTH  # 11

CLEAN_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HASHED = re.compile(rf"-[a-z2-7]{{{HASH_LENGTH}}}$")
LEGACY_HASHED = re.compile(rf"-[0-9a-f]{{{LEGACY_HASH_LENGTH}}}$")
# Either kind: a clean username ending like this is hashed, so it can take neither kind of hashed slug.
LOOKS_HASHED = re.compile(rf"-(?:[a-z2-7]{{{HASH_LENGTH}}}|[0-9a-f]{{{LEGACY_HASH_LENGTH}}})$")
PREFIX_PATTERN = re.compile(rf"^[a-z][a-z0-9]{{0,{MAX_PREFIX - 1}}}$")
# A system account's name: Linux allows 32 characters, and Debian's useradd wants a lowercase letter first.
MAX_ACCOUNT_NAME = 32
DEFAULT_ACCOUNT_PREFIX = "wb-"
ACCOUNT_PREFIX_PATTERN = re.compile(rf"^[a-z][a-z0-9]{{0,{MAX_ACCOUNT_NAME - MAX_CLEAN_SLUG - 2}}}-$")

LOADTEST_SUFFIX = "loadtest"
RUNS_SUFFIX = "runs"
ROLE_SUFFIX = "server"


def _ascii_readable(username: str) -> str:
    """Lowercase ASCII letters/digits joined by single hyphens; accents are folded (é -> e), the rest dropped."""
    folded = unicodedata.normalize("NFKD", username).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")


def username_hash(username: str) -> str:
    digest = hashlib.sha256(username.encode("utf-8")).digest()[:8]
    return base64.b32encode(digest).decode("ascii").lower().rstrip("=")


def _is_clean(username: str, looks_hashed: re.Pattern) -> bool:
    if not isinstance(username, str) or not username:
        raise ValueError(f"a username must be a non-empty string, got {username!r}")
    return len(username) <= MAX_CLEAN_SLUG and bool(CLEAN_SLUG.match(username)) and not looks_hashed.search(username)


def slug(username: str) -> str:
    """The short, readable, injective stand-in for ``username`` inside resource names."""
    if _is_clean(username, LOOKS_HASHED):
        return username
    readable = _ascii_readable(username)[:MAX_READABLE].strip("-") or "user"
    return f"{readable}{HASH_SEPARATOR}{username_hash(username)}"


def legacy_slug(username: str) -> str:
    """The slug earlier releases gave ``username`` (a 32-bit hash): only to find what was made under it."""
    if _is_clean(username, LEGACY_HASHED):
        return username
    readable = _ascii_readable(username)[:LEGACY_MAX_READABLE].strip("-") or "user"
    return f"{readable}{HASH_SEPARATOR}{hashlib.sha256(username.encode('utf-8')).hexdigest()[:LEGACY_HASH_LENGTH]}"


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


def for_user(username: str, prefix: str = DEFAULT_PREFIX, legacy: bool = False) -> PlaygroundNames:
    """The names of the user's resources; ``legacy``: the names an earlier release gave them (the same for most
    usernames: see :func:`has_legacy_names`)."""
    return PlaygroundNames(username=username, prefix=check_prefix(prefix),
                           slug=legacy_slug(username) if legacy else slug(username))


def has_legacy_names(username: str) -> bool:
    """Whether an earlier release named this user's resources differently (hashed usernames only).

    Not a clean username that ends like a current hashed slug (``zoe-o-xgdi6356atvzq``): it is hashed now, but its
    old name was itself, which may be another user's current slug (``zoe.o_brien``'s), whose resources (a database
    role and schema have no owner tag) it would otherwise take as its own."""
    legacy = legacy_slug(username)
    return legacy != slug(username) and not HASHED.search(legacy)


def check_account_prefix(prefix: str) -> str:
    if not ACCOUNT_PREFIX_PATTERN.match(prefix or ""):
        raise ValueError(
            f"account prefix {prefix!r} must be a lowercase letter, at most {MAX_ACCOUNT_NAME - MAX_CLEAN_SLUG - 2} "
            "more lowercase letters or digits, and a final hyphen (e.g. `wb-`): it starts every user's system "
            f"account name, which may have {MAX_ACCOUNT_NAME} characters"
        )
    return prefix


def account_name(username: str, prefix: str = DEFAULT_ACCOUNT_PREFIX) -> str:
    """The system account a user's servers run as: the prefix and the user's slug, so as injective as the slug
    and always a valid Linux user name (``alice`` -> ``wb-alice``, ``Alice Smith`` -> ``wb-alice-rlqq37e2nh4x2``)."""
    return f"{check_account_prefix(prefix)}{slug(username)}"
