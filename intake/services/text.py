"""Characters that change how text is shown without being seen, refused wherever a patient's
text is stored (their details and free-text answers).

Bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) can reorder
what a queue row or an email shows, so a name or an answer could read as something else;
zero-width spaces and the like hide text inside text (and make two identical-looking names
differ); private-use characters show as whatever a font happens to put there, if anything.
Together: Unicode's "format" (Cf) and "private use" (Co) categories.

Three kinds of format character are kept, because real names and words need them and they
cannot reorder letters: the directional marks (LRM, RLM, ALM: a name in Hebrew or Arabic may
carry one), and the zero-width joiner and non-joiner between two letters (Persian and Indic
scripts use them to shape a word).

They are refused rather than quietly removed: what a clinician reads must be exactly what the
patient sent, so the patient is told which character to remove.
"""

import unicodedata

DIRECTIONAL_MARKS = {"\u200e", "\u200f", "\u061c"}
JOINERS = {"\u200c", "\u200d"}

_DESCRIBED = {
    "Cf": "an invisible formatting character",
    "Co": "a private-use character, which others cannot read",
}


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def hidden_character_problem(text: str) -> str | None:
    """A message naming the first refused character of ``text``, or None when there is none."""
    for position, ch in enumerate(text):
        kind = _DESCRIBED.get(unicodedata.category(ch))
        if kind is None or ch in DIRECTIONAL_MARKS:
            continue
        if (ch in JOINERS and 0 < position < len(text) - 1
                and _is_letter(text[position - 1]) and _is_letter(text[position + 1])):
            continue
        name = unicodedata.name(ch, "")
        named = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
        return (f"Remove {kind} ({named}): it can change how the text is shown. If you pasted "
                "this, type it instead.")
    return None
