"""Markdown made plain for the voice: headings, lists, tables, quotes, links and emphasis
become plain sentences, each block ending as a sentence the voice pauses after.

Part of :func:`avatar_bridge.speech.spoken_form`; pure functions of the text.
"""

from __future__ import annotations

import re

_MARKDOWN_CHARS = re.compile(r"[\n*_`#|\[\]•]|~~|<[A-Za-z/!]")
_MARKDOWN_START = re.compile(r"\s*(?:[-+>]|\d{1,3}[.)])(?:\s|$)|\s*(?:-\s*){3,}$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_CITATION = re.compile(r"\s?\[(?:\^?\d+(?:\s*[,-]\s*\d+)*)\]")
_HTML_BREAK = re.compile(r"<br\s*/?>|</p>|</li>|</h[1-6]>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_FENCE = re.compile(r"^\s*(?:```|~~~)[\w+.-]*\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT_RULE = re.compile(r"^\s*(?:=+|-+)\s*$")
_RULE = re.compile(r"^\s*(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")
_BULLET = re.compile(r"^\s*(?:[-*+•▪◦‣]|\d{1,3}[.)]|[a-z][.)])(?:\s+(.*))?$")
_TASK_BOX = re.compile(r"^\[[ xX]\]\s+")
_QUOTE = re.compile(r"^\s*(?:>\s?)+(?!\s*\d)")
_TABLE_ROW = re.compile(r"^\s*\|(.*)\|?\s*$")
_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_INLINE_CODE = re.compile(r"`+([^`]*)`+")
_LOWER_WORD = re.compile(r"[a-z]+\b")


def looks_like_markdown(text: str) -> bool:
    return bool(_MARKDOWN_CHARS.search(text) or _MARKDOWN_START.match(text))


def plain_from_markdown(text: str) -> str:
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    text = _CITATION.sub("", text)
    blocks: list[str] = []
    paragraph: list[str] = []
    in_code = False

    def end_paragraph() -> None:
        if paragraph:
            blocks.append(_end_paragraph(" ".join(paragraph)))
            paragraph.clear()

    for raw in text.splitlines():
        if _FENCE.match(raw):
            end_paragraph()
            in_code = not in_code
            continue
        line = raw.strip()
        if not line:
            end_paragraph()
            continue
        if in_code:
            blocks.append(_end_block(line))
            continue
        if _RULE.match(line):
            end_paragraph()
            continue
        if _SETEXT_RULE.match(line) and paragraph:
            heading = " ".join(paragraph)
            paragraph.clear()
            blocks.append(_end_block(_inline(heading)))
            continue
        heading_match = _HEADING.match(line)
        if heading_match:
            end_paragraph()
            blocks.append(_end_block(_inline(heading_match.group(1))))
            continue
        line = _QUOTE.sub("", line).strip()
        row = _TABLE_ROW.match(line)
        if row and line.count("|") >= 2:
            end_paragraph()
            if not _TABLE_RULE.match(line):
                cells = [_inline(c.strip()) for c in row.group(1).split("|")]
                blocks.append(_end_block(", ".join(c for c in cells if c)))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            end_paragraph()
            item = bullet.group(1) or ""
            while nested := _BULLET.match(item):
                item = nested.group(1) or ""
            item = _TASK_BOX.sub("", item)
            blocks.append(_end_block(capitalise(_inline(item))))
            continue
        line = _inline(line)
        if paragraph and line[:1].isupper() and not paragraph[-1].endswith((",", ";")):
            # A new line that starts a new thought: keep the boundary the line break made.
            end_paragraph()
        paragraph.append(line)
    if paragraph:
        blocks.append(" ".join(paragraph))  # the last words keep the ending they were given
    return " ".join(" ".join(b for b in blocks if b).split())


def _inline(text: str) -> str:
    text = _INLINE_CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _EMPHASIS_STAR.sub(r"\1", text)
    text = _EMPHASIS_UNDERSCORE.sub(r"\1", text)
    return text.strip()


def capitalise(text: str) -> str:
    if _LOWER_WORD.match(text):
        return text[0].upper() + text[1:]
    return text


def _end_block(text: str) -> str:
    """A heading, list item or table row: said as a sentence of its own."""
    text = text.rstrip()
    if not text or not has_word(text):
        return ""
    if text[-1] in ",;:":
        text = text[:-1].rstrip()
    return text if _ends_sentence(text) else text + "."


def _end_paragraph(text: str) -> str:
    text = text.rstrip()
    if not text or not has_word(text):
        return ""
    if _ends_sentence(text) or text[-1] in ":;," or not any(ch.isalpha() for ch in text):
        return text
    return text + "."


def has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip(")]}\"'”’»*_`")
    return bool(stripped) and stripped[-1] in ".!?…"


def unwrap_links(text: str) -> str:
    """Images and links become their words; an autolink its address."""
    if "](" in text or "][" in text:
        text = _IMAGE.sub(r"\1", text)
        text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
    return text


def starts_with_marker(text: str) -> bool:
    """Whether ``text`` starts with a list or quote marker."""
    return bool(_BULLET.match(text) or _QUOTE.match(text))
