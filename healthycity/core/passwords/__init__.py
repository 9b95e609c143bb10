"""The workspace's password rules, following OWASP ASVS 4.0.3 section 2.1.

Why these rules and no others:
- Length is what makes a password hard to guess, so it is the main rule: at least 12
  characters (ASVS 2.1.1) and at most 128 (2.1.2: at least 64 must be allowed, more than
  128 refused), counted as Unicode characters after NFC normalisation, so "é" typed
  either way counts once. Any printable Unicode character is allowed, spaces included
  (2.1.4), and nothing is truncated: argon2 hashes the whole password (2.1.3).
- No composition rules (no "one capital, one digit"): ASVS 2.1.9 and NIST SP 800-63B
  5.1.1.2 say they make passwords more predictable, not stronger.
- A password that attackers try first is refused (ASVS 2.1.7, NIST 800-63B 5.1.1.2): one
  on the shipped list of common passwords (``common-passwords.csv``, its source and
  licence in the README beside it), one that is such a password with digits or symbols
  added at either end ("password1234"), a repetition ("aaaaaaaaaaaa", "abcabcabcabc"),
  a run along the alphabet, the digits or a keyboard row ("abcdefghijkl"), or one
  containing the account's own email name (NIST's "context-specific words").

The checks are pure functions (no database, no I/O beyond reading the list once) so
the command line, the forms and the JSON API refuse the same passwords with the same
words.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources

MIN_LENGTH = 12
MAX_LENGTH = 128
# Fewer different characters than this in a 12+ character password is a repetition.
MIN_DISTINCT = 5
# An email name shorter than this is too short to look for (it would refuse at random);
# the parts of a name ("ada.lovelace": "lovelace") are looked for from one longer.
MIN_CONTEXT_WORD = 3
_LIST = "common-passwords.csv"
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)
_EDGE = "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ "


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once per process, about 30,000 entries)."""
    text = resources.files(__package__).joinpath(_LIST).read_text(encoding="utf-8")
    lines = text.splitlines()
    return frozenset(line.strip().lower() for line in lines[1:] if line.strip())


def length(password: str) -> int:
    """Characters as a person counts them: NFC code points."""
    return len(unicodedata.normalize("NFC", password))


def _is_run(text: str) -> bool:
    """Is ``text`` a stretch of one of the runs (forwards or backwards, wrapping round)?"""
    for run in _RUNS:
        looped = run * (len(text) // len(run) + 2)
        if text in looped or text in looped[::-1]:
            return True
    return False


def _period(text: str) -> int:
    """The length of the shortest unit ``text`` is a repetition of (its length if none)."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return size
    return len(text)


def _email_words(email: str | None) -> list[str]:
    """The email's name (before the @) and its parts split at . _ - +, long enough to test."""
    if not email or "@" not in email:
        return []
    local = email.strip().lower().split("@", 1)[0].split("+", 1)[0]
    words = {local} if len(local) >= MIN_CONTEXT_WORD else set()
    for separator in "._-":
        local = local.replace(separator, " ")
    words.update(w for w in local.split() if len(w) > MIN_CONTEXT_WORD)
    return sorted(words)


def problem(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` is refused, in words a form can show; ``None`` if it is accepted.

    ``email`` is the account's address: a password containing its name is refused.
    """
    size = length(password)
    if size < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if size > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        return "the password must not contain control characters"
    folded = unicodedata.normalize("NFC", password).casefold()
    common = common_passwords()
    if folded in common:
        return "the password is one of the most common passwords; choose another"
    core = folded.strip(_EDGE)
    if core in common or (core and _is_run(core) and len(core) >= 4):
        return (
            "the password is a common password with numbers or symbols added; "
            "choose another, a few unrelated words work well"
        )
    if len(set(folded)) < MIN_DISTINCT or _period(folded) <= len(folded) // 2:
        return "the password repeats itself; choose one that does not"
    if _is_run(folded.replace(" ", "")):
        return "the password is a sequence of letters, numbers or keys; choose another"
    for word in _email_words(email):
        if word in folded:
            return "the password must not contain your email address or its name"
    return None


__all__ = ["MAX_LENGTH", "MIN_LENGTH", "common_passwords", "length", "problem"]
