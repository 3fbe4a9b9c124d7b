"""Hong Kong government-style romanisation of Cantonese names.

Identity cards spell a Chinese name the way the Immigration Department has done
for decades: syllables in a Wade-Giles-like Cantonese spelling ("CHAN, Tai Man",
"CHEUNG, Ka Yan", "TSUI, Wing Sze"). There is no official algorithm, so this
module does two things:

* surnames come from a hand-written table (their spellings are idiosyncratic:
  王 and 黃 are both WONG, 吳 is NG, 羅 is LAW, 周 is CHOW);
* given-name syllables are converted from Jyutping (the readings here were taken
  from Unihan ``kCantonese`` in Debian ``unicode-data`` and are stored in
  :mod:`benchmarks.synth.names` so the generator does not need that file) by
  :func:`jyutping_to_hk`, a rule set that reproduces the usual spellings
  (zi -> Chi, si -> Sze, zoeng -> Cheung, jyun -> Yuen, seon -> Shun ...).

Example:
    >>> jyutping_to_hk("zoeng1")
    'Cheung'
    >>> jyutping_to_hk("si1")
    'Sze'
    >>> jyutping_to_hk("jyun4")
    'Yuen'
    >>> jyutping_to_hk("waa4")
    'Wah'
"""

from __future__ import annotations

import re

__all__ = ["jyutping_to_hk"]

# Longest first so "gw" wins over "g" and "ng" over "n".
_INITIALS = ("gw", "kw", "ng", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "w",
             "z", "c", "s", "j")

# Initial -> spelling. Aspiration is not marked in this system (b and p are both P).
_INITIAL_SPELLING = {
    "b": "P", "p": "P", "m": "M", "f": "F", "d": "T", "t": "T", "n": "N", "l": "L",
    "g": "K", "k": "K", "gw": "Kw", "kw": "Kw", "ng": "Ng", "h": "H", "w": "W",
    "z": "Ch", "c": "Ch", "s": "S", "j": "Y", "": "",
}

# Final -> spelling when nothing special applies.
_FINAL_SPELLING = {
    "aa": "a", "aai": "ai", "aau": "au", "aam": "am", "aan": "an", "aang": "ang",
    "aap": "ap", "aat": "at", "aak": "ak",
    "ai": "ai", "au": "au", "am": "am", "an": "an", "ang": "ang", "ap": "ap", "at": "at",
    "ak": "ak",
    "e": "e", "ei": "ei", "eu": "eu", "em": "em", "eng": "eng", "ep": "ep", "ek": "ek",
    "i": "i", "iu": "iu", "im": "im", "in": "in", "ing": "ing", "ip": "ip", "it": "it",
    "ik": "ik",
    "o": "o", "oi": "oi", "ou": "o", "on": "on", "ong": "ong", "ot": "ot", "ok": "ok",
    "u": "u", "ui": "ui", "un": "oon", "ung": "ung", "ut": "oot", "uk": "uk",
    "oe": "oe", "oeng": "eung", "oek": "euk",
    "eoi": "ui", "eon": "un", "eot": "ut",
    "yu": "ue", "yun": "uen", "yut": "uet",
    "m": "m", "ng": "ng",
}

# (initial, final) pairs whose usual spelling does not follow from the parts.
_SPECIAL = {
    ("z", "i"): "Chi", ("c", "i"): "Chi", ("s", "i"): "Sze",
    ("z", "e"): "Tse", ("c", "e"): "Tse", ("s", "e"): "She",
    ("z", "ang"): "Tsang", ("c", "ang"): "Tsang",
    ("z", "eoi"): "Chui", ("c", "eoi"): "Chui", ("s", "eoi"): "Sui", ("j", "eoi"): "Yui",
    ("z", "yu"): "Chu", ("c", "yu"): "Chu", ("s", "yu"): "Shu", ("j", "yu"): "Yu",
    ("h", "yu"): "Hui", ("l", "yu"): "Lui", ("n", "yu"): "Nui", ("k", "yu"): "Kui",
    ("g", "yu"): "Kui",
    ("j", "yun"): "Yuen", ("j", "yut"): "Yuet",
    ("s", "eon"): "Shun", ("z", "eon"): "Chun", ("c", "eon"): "Chun", ("j", "eon"): "Yun",
    ("s", "uk"): "Shuk", ("s", "ek"): "Shek", ("s", "oeng"): "Sheung",
    ("s", "am"): "Sum", ("s", "yun"): "Suen",
    ("j", "i"): "Yi", ("j", "e"): "Ye",
    # Open "aa" after w is written with a final h on most cards (華 Wah, 話 Wah).
    ("w", "aa"): "Wah",
    ("z", "au"): "Chau", ("c", "au"): "Chau",
}

_SYLLABLE_RE = re.compile(r"^([a-z]+?)([1-6])?$")


def jyutping_to_hk(syllable: str) -> str:
    """Spell one Jyutping syllable ("gaa1", "zoeng1") the way HKID cards do ("Ka", "Cheung").

    The tone number is optional and ignored. Raises ValueError for text that is
    not a Jyutping syllable.

    Example:
        >>> [jyutping_to_hk(s) for s in ("daai6", "man4", "wing4", "seon3", "juk6")]
        ['Tai', 'Man', 'Wing', 'Shun', 'Yuk']
    """
    m = _SYLLABLE_RE.match(syllable.strip().lower())
    if not m:
        raise ValueError(f"not a Jyutping syllable: {syllable!r}")
    body = m.group(1)
    # Syllabic nasals (吳 ng4, 唔 m4) have no initial.
    if body in ("m", "ng"):
        return body.capitalize()
    initial = ""
    for cand in _INITIALS:
        if body.startswith(cand) and len(body) > len(cand):
            initial = cand
            break
    final = body[len(initial):]
    if (initial, final) in _SPECIAL:
        return _SPECIAL[(initial, final)]
    if final not in _FINAL_SPELLING:
        raise ValueError(f"unknown Jyutping final in {syllable!r}")
    spelled = _INITIAL_SPELLING[initial] + _FINAL_SPELLING[final]
    if initial == "j" and final.startswith("y"):
        # jyu.. already starts with the y sound: "Y" + "uen" -> "Yuen".
        spelled = "Y" + _FINAL_SPELLING[final]
    return spelled.capitalize()
