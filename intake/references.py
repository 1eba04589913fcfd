"""Submission references: what a patient quotes on the phone and what a URL may carry.

A reference is 12 characters of Crockford's base 32 (no I, L, O or U, so nothing is misread),
60 random bits from the operating system's generator, shown in groups of four.  It reveals
nothing about the patient or the order of submissions, and guessing one is hopeless.
"""

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS, _GROUP_LENGTH = 3, 4
PATTERN = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def new_reference() -> str:
    groups = (
        "".join(secrets.choice(ALPHABET) for _ in range(_GROUP_LENGTH)) for _ in range(_GROUPS)
    )
    return "-".join(groups)


def normalise_reference(text: str) -> str | None:
    """The canonical form of a reference as a person might type it, or None if it cannot be one."""
    compact = re.sub(r"[\s-]", "", text.upper()).translate(str.maketrans("OIL", "011"))
    if len(compact) != _GROUPS * _GROUP_LENGTH:
        return None
    candidate = "-".join(compact[i:i + _GROUP_LENGTH] for i in range(0, len(compact), 4))
    return candidate if PATTERN.match(candidate) else None
