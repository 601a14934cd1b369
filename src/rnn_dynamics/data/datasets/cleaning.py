"""What a corpus leaves in its texts: the cleaning rules its reader applies, and the detectors the data card counts.

A rule (``RULES``, by name) turns a text into what it meant: ``escapes`` (a line break written as a backslash,
with or without a following ``n``, becomes a space), ``entities`` (HTML entities decoded, those that lost their
``&`` too: `` #39;`` is ``'``, ``#36;`` is ``$``), ``markup`` (HTML tags removed, written as ``<a href=...>`` or
as entities ``&lt;b&gt;``). ``clean`` applies rules in the order of ``RULES``; a text a rule finds nothing in
comes back as the very same string. Each reader names the rules its corpus needs (``zhang_csv``; a table file
takes the dataset's ``clean`` key), and docs/data.md lists them with why.

A detector (``DETECTORS``) finds one kind of artefact in a text as the tokenizer would see it: ``backslashes``
(a backslash glued to a word), ``entities`` (an entity, or a remnant of one without its ``&``), ``markup`` (a tag,
raw or escaped, other than the line breaks the tokenizer removes), ``urls`` and ``non_letters`` (a run of four or
more characters that are neither letters, digits, underscores, spaces nor the punctuation the tokenizer splits
off or drops, such as ``*****`` or ``=-=-``). Each names the rule that removes what it finds, or None.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

__all__ = ["DETECTORS", "RULES", "Detector", "clean", "clean_texts", "check_rules"]

# The named entities whose "&" is lost in the wild ("it quot;s"), besides numeric ones ("#39;").
_NAMED_REMNANTS = "quot|amp|lt|gt|nbsp|apos"
# An entity that lost its "&": "#39;", "#x27;" or "quot;" not glued to a word, an "&" or a ";" before it ("it #39;s",
# where the space stands for the "&", becomes "it 's", which the tokenizer splits as it splits "it's"). A numeric
# one has two or more digits: "#1;" is more likely "number one" before a semicolon.
_LOST_AMPERSAND = re.compile(rf"(?<![&\w;])(#[0-9]{{2,}};|#x[0-9a-f]+;|(?:{_NAMED_REMNANTS});)", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]*);", re.IGNORECASE)
_BARE_ENTITY = re.compile(rf"&(?:{_NAMED_REMNANTS})\b", re.IGNORECASE)
# A tag: "<b>", "</a>", "<a href=...>", "<br />", raw or written with entities ("&lt;b&gt;"); its name follows
# the "<" at once, so that "a < b and c > d" is no tag.
_TAG = r"/?[a-z][a-z0-9]*(?:\s[^<>]*?)?\s*/?"
_MARKUP = re.compile(rf"<{_TAG}>|&lt;{_TAG}&gt;", re.IGNORECASE)
# The line breaks the tokenizer removes (``text.tokenize``), which the markup detector does not count.
_TOKENIZER_BREAK = r"br\s*/?>"
_ESCAPE = re.compile(r"\\n?")


def _escapes(text: str) -> str:
    """A backslash, with or without a following "n", becomes a space: Zhang et al.'s files write a line break as
    "\\n" (Yelp) or a lone backslash (AG News). A "\\n" is read as a line break first, so a lone backslash
    before a word starting with "n" takes the "n" with it."""
    return _ESCAPE.sub(" ", text) if "\\" in text else text


def _entities(text: str) -> str:
    """HTML entities decoded (``html.unescape``), after an "&" is restored to the ones that lost it."""
    if "&" not in text and ";" not in text:  # every entity, and every remnant of one, has one of them
        return text
    restored = _LOST_AMPERSAND.sub(r"&\1", text)
    return html.unescape(restored) if "&" in restored else text


def _markup(text: str) -> str:
    """HTML tags, raw or written with entities, become a space."""
    if "<" not in text and "&lt;" not in text and "&LT;" not in text:
        return text
    return _MARKUP.sub(" ", text)


# Every rule by name, in the order ``clean`` applies them: entities are decoded before markup is removed, so
# that "&lt;b&gt;" goes whichever of the two a dataset names.
RULES: Mapping[str, Callable[[str], str]] = {"escapes": _escapes, "entities": _entities, "markup": _markup}


def check_rules(rules: Sequence[str], source: str) -> tuple[str, ...]:
    """``rules`` in ``RULES``' order; a name not among them raises a ValueError naming ``source``."""
    unknown = [rule for rule in rules if rule not in RULES]
    if unknown:
        raise ValueError(f"{source}: unknown cleaning rule {unknown}; the rules are {list(RULES)}")
    return tuple(rule for rule in RULES if rule in rules)


def clean(text: str, rules: Sequence[str]) -> str:
    """``text`` through each of ``rules`` (names in ``RULES``), in ``RULES``' order."""
    for name in check_rules(rules, "clean"):
        text = RULES[name](text)
    return text


def clean_texts(texts: Sequence[str], rules: Sequence[str]) -> list[str]:
    """Every text through ``rules`` (``clean``); no rules: the texts as they are."""
    functions = [RULES[name] for name in check_rules(rules, "clean")]
    if not functions:
        return list(texts)
    cleaned = []
    for text in texts:
        for function in functions:
            text = function(text)
        cleaned.append(text)
    return cleaned


@dataclass(frozen=True)
class Detector:
    """One kind of artefact: the pattern that finds it in a text, the rule that removes it (or None), and
    ``hints``: strings one of which every match holds, lower-cased, so that a text whose lower-cased form holds
    none is passed over without the (slower) search; none: every text is searched."""

    pattern: re.Pattern
    rule: str | None
    description: str
    hints: tuple[str, ...] = ()

    def search(self, text: str, lowered: str) -> re.Match | None:
        """The first match in ``text`` (``lowered`` is ``text.lower()``, shared by the detectors), or None."""
        if self.hints and not any(hint in lowered for hint in self.hints):
            return None
        return self.pattern.search(text)


DETECTORS: Mapping[str, Detector] = {
    "backslashes": Detector(
        re.compile(r"\S\\|\\\S"), "escapes", "a backslash glued to a word (an escaped line break)", ("\\",)
    ),
    "entities": Detector(
        re.compile("|".join(p.pattern for p in (_ENTITY, _BARE_ENTITY, _LOST_AMPERSAND)), re.IGNORECASE),
        "entities",
        "an HTML entity, or one that lost its '&' ('#39;', 'quot;')",
        ("&", "#", *(f"{name};" for name in _NAMED_REMNANTS.split("|"))),
    ),
    "markup": Detector(
        re.compile(rf"<(?!{_TOKENIZER_BREAK}){_TAG}>|&lt;{_TAG}&gt;", re.IGNORECASE),
        "markup",
        "an HTML tag, raw or as entities ('&lt;b&gt;'), other than the line breaks the tokenizer removes",
        ("<", "&lt;"),
    ),
    "urls": Detector(re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE), None, "a web address", ("://", "www.")),
    "non_letters": Detector(
        re.compile(r"[^\w\s.,()!?'\";:]{4,}"),
        None,
        "a run of four or more characters that are neither letters, digits, underscores, spaces nor "
        ". , ( ) ! ? ' \" ; :",
    ),
}
