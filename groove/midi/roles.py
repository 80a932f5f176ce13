"""Instrument roles: the parts of a band a track plays, in one place.

A track's role comes from its drum flag, its name, or its General MIDI program
family. Style transfer plays `TRANSFER_ROLES`; metrics also count "other".
"""

from __future__ import annotations

from groove.errors import ConfigError
from groove.midi.score import Track

# Every role a track can have.
ROLES = ("bass", "keys", "guitar", "strings", "drums", "other")
# The roles a style-transfer model plays (`ROLES` less "other").
TRANSFER_ROLES = ("bass", "keys", "guitar", "strings", "drums")
# The roles with pitches: they carry harmony (drums do not).
PITCHED_ROLES = ("bass", "keys", "guitar", "strings")
# Track names of groove's band and of a transfer's output, one per role.
TRACK_NAMES = {
    "bass": "Bass",
    "keys": "Piano",
    "guitar": "Guitar",
    "strings": "Strings",
    "drums": "Drums",
}

# Instrument roles by General MIDI program family (GM 1 sound set, MIDI Manufacturers
# Association 1991). Chromatic percussion (8-15) and organs (16-23) count as keys.
_FAMILY_ROLE = {
    0: "keys",  # 0-7 piano
    1: "keys",  # 8-15 chromatic percussion
    2: "keys",  # 16-23 organ
    3: "guitar",  # 24-31
    4: "bass",  # 32-39
    5: "strings",  # 40-47 strings
    6: "strings",  # 48-55 ensemble
}
# A track named for its role keeps that role whatever its program: groove's band
# names its tracks so, and its string pads may use pad, choir, brass or organ sounds.
_NAME_ROLE = {"bass": "bass", "piano": "keys", "keys": "keys", "guitar": "guitar"}
_NAME_ROLE |= {"strings": "strings", "pad": "strings", "pads": "strings"}
_ROLE_ALIASES = {"piano": "keys"}


def role_of(track: Track) -> str:
    """The role of a track: one of `ROLES`. Drum tracks are "drums"; a track named
    for a role ("Bass", "Piano", "Keys", "Guitar", "Strings", "Pad") has that role;
    any other takes the role of its GM program family."""
    if track.is_drum:
        return "drums"
    named = _NAME_ROLE.get(track.name.strip().lower())
    return named or _FAMILY_ROLE.get(int(track.program) // 8, "other")


def parse_role(name: str) -> str:
    """A role name as `TRANSFER_ROLES` spells it ("piano" means "keys")."""
    role = _ROLE_ALIASES.get(name.strip().lower(), name.strip().lower())
    if role not in TRANSFER_ROLES:
        raise ConfigError(
            f"unknown role {name!r}; choose from {', '.join(TRANSFER_ROLES)} (or piano)"
        )
    return role
