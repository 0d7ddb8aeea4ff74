"""What the patient wants besides an answer: a person, or a few social words. Pure.

``wants_person`` recognises explicit requests to be put in touch with a human ("put me
through to a nurse", "can somebody ring me back", "I want a proper person"); a question
about a topic that names a person ("can I talk to my nurse about sex?") is not one.
``is_smalltalk`` recognises utterances made only of greetings, thanks, goodbyes or
questions about the assistant itself; any real question makes it None.
"""

from __future__ import annotations

import re
from typing import Literal

from escalation.triage import normalise
from ingestion.text import word_set

SmalltalkKind = Literal["greeting", "thanks", "goodbye", "identity"]


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split("|") if p.strip())


def _words(text: str, normalised: str | None) -> str:
    """Normalised words, commas dropped, sentence ends as "|", single spaces, trailing space.

    ``normalised`` is ``normalise(text)`` when the caller already has it."""
    if normalised is None:
        normalised = normalise(text)
    tokens = [t for t in normalised.split() if t != ","]
    return " ".join("|" if t in (".", "?") else t for t in tokens) + " "


# ---------------------------------------------------------------------------------------
# A person
# ---------------------------------------------------------------------------------------

_TITLE = r"(?:nurse|doctor|dr|sister|mr|mrs|ms|professor)"
_NOT_A_NAME = (
    r"(?:about|regarding|re|if|whether|please|now|today|on|at|in|for|to|and|or|but|because"
    r"|so|when|before|after|asap|straight|right|tonight|again|instead|then|there|here|i|me"
    r"|my|as|with|who|that|this|who|is|from|of)"
)
_PERSON = (
    r"(?:(?:a |an |the |some |my |your |one of (?:the|your) |somebody |someone )?"
    r"(?:real |actual |proper |live |human |medical |specialist )?"
    rf"(?:human being|human|person|someone|somebody|anyone|anybody"
    rf"|{_TITLE}(?: (?!{_NOT_A_NAME}\b)[a-z]+)?"
    r"|nurses|doctors|team|care team|people|consultant|surgeon|specialist|clinician"
    r"|coordinator|care coordinator|gp|operator|staff|member of staff|receptionist"
    r"|professional|man|woman|urologist|somebody real|someone real))"
)
_REQUEST = (
    r"(?:i want|i would like|i would rather|i would prefer|i need|i want to|want to|let me"
    r"|please|can i|could i|may i|can you|could you|would you|i wish|i must|i have to|i demand"
    r"|i prefer|i rather|rather|i just want|just let me|is it possible to|i wanna|i am asking"
    r"|i would love|how can i|how do i|i am trying to|i d like|need to|wants to|would like to)"
)
_TOPIC_AFTER = re.compile(r"^(?:about|regarding|re|if|whether|before|after|when|once)\b")
_TOPIC_FRAME = re.compile(
    r"\b(?:should i|do i need to|will i|when|why|is it ok to|is it okay to|is it normal to"
    r"|would it help to|would it be worth|is it worth)\b"
)

_SPEAK = re.compile(rf"\b(?:talk|speak|chat|speaking|talking) (?:to|with) {_PERSON}\b")
_PUT_THROUGH = re.compile(
    rf"\b(?:put me through|transfer me|connect me|pass me over|hand me over|put me in touch"
    rf"|get me through)(?: (?:to|with) {_PERSON})?\b"
)
_GET_ME = re.compile(rf"\b(?:get me|give me|fetch|find me|send me|i need|i want) {_PERSON}\b")
_IS_THERE = re.compile(
    r"\bis there (?:a |an )?(?:real |actual |proper )?(?:human|person|someone|somebody|anyone"
    r"|anybody|nurse|doctor|people) (?:[a-z]+ ){0,3}(?:talk|speak|chat|call|ring|help)\b"
)
_CALL_ME = re.compile(
    r"\b(?:ring|call|phone|contact|text) me(?: back)?\b(?! (?:if|when|once|after|about my"
    r" results))"
)
_CALL_ME_FRAME = re.compile(
    r"\b(?:can|could|would|will|please|somebody|someone|anyone|nurse|doctor|team|i want|i need"
    r"|i would like|ask|have|get)\b"
)
_SEE = re.compile(rf"\b{_REQUEST} (?:to )?(?:see|have) {_PERSON}\b")
_BOOK = re.compile(
    r"\b(?:book|make|arrange|schedule|set up|get) (?:me )?(?:in )?(?:for )?(?:an |a )?"
    r"(?:appointment|consultation|call back|callback|phone call|video call|slot|visit|review)\b"
)
_NOT_A_MACHINE = re.compile(
    r"\b(?:not|rather not|sick of|fed up of|fed up with|tired of|done) (?:[a-z]+ ){0,2}"
    r"(?:talk|talking|speak|speaking|chatting) (?:to|with) (?:a |an |the |this |some )?"
    r"(?:machine|robot|computer|bot|ai|program|programme|avatar|recording)\b"
)
_ALONE = re.compile(
    r"^(?:(?:a |an |the )?(?:real |live |human |actual )?(?:human|person|operator|agent"
    r"|representative|nurse|doctor|someone|somebody)(?: please| now| please now)?"
    r"|speak to someone|talk to someone|someone real|human please) $"
)
_NEGATED = frozenset({"not", "no", "never", "without"})
_SUBJECT_RESET = frozenset({"i", "you", "we", "can", "could", "would", "please", "but", "|"})


def _negated(words: str, start: int) -> bool:
    before = words[:start].split()[-4:]
    for tok in reversed(before):
        if tok in _SUBJECT_RESET:
            return False
        if tok in _NEGATED:
            return True
    return False


def _request_before(words: str, start: int) -> bool:
    before = words[:start]
    tail = " ".join(before.split()[-6:]) + " "
    return bool(re.search(rf"\b{_REQUEST} (?:[a-z]+ ){{0,3}}$", tail))


def _asks_to_speak(words: str) -> bool:
    for m in _SPEAK.finditer(words):
        if _negated(words, m.start()) or _TOPIC_FRAME.search(words[: m.end()]):
            continue
        # "Can I talk to my nurse about sex?" asks about a topic, not for a person now.
        topic = _TOPIC_AFTER.match(words[m.end() :].lstrip()) and re.search(
            r"\b(?:can i|could i|may i|is it ok|is it okay)\b", words[: m.start()]
        )
        if topic and re.search(r"\b(?:to|with) my\b", m[0]):
            continue
        if _request_before(words, m.start()):
            return True
    return False


def _asks(pattern: re.Pattern[str], words: str, *, request: bool, topic: bool) -> bool:
    """The pattern occurs un-negated, after a request when ``request``, outside a topic frame."""
    m = pattern.search(words)
    if m is None or _negated(words, m.start()):
        return False
    if request and not _request_before(words, m.start()):
        return False
    return not (topic and _TOPIC_FRAME.search(words[: m.end()]))


def wants_person(text: str, normalised: str | None = None) -> bool:
    """True for an explicit request to be put in touch with a person.

    ``normalised``: ``escalation.triage.normalise(text)`` when the turn already has it."""
    words = _words(text, normalised)
    bare = " ".join(t for t in words.split() if t != "|") + " "
    if _NOT_A_MACHINE.search(words) or _ALONE.match(bare.removeprefix("please ")):
        return True
    if _asks_to_speak(words):
        return True
    if any(
        _asks(pattern, words, request=False, topic=False)
        for pattern in (_PUT_THROUGH, _GET_ME, _IS_THERE)
    ):
        return True
    call = _CALL_ME.search(words)
    if call and not _negated(words, call.start()) and _CALL_ME_FRAME.search(words[: call.start()]):
        return True
    return _asks(_SEE, words, request=False, topic=True) or _asks(
        _BOOK, words, request=True, topic=True
    )


# ---------------------------------------------------------------------------------------
# Smalltalk
# ---------------------------------------------------------------------------------------

_SMALLTALK: tuple[tuple[SmalltalkKind, tuple[str, ...]], ...] = (
    (
        "identity",
        _phrases(
            "who are you | what are you | who is this | who am i talking to | "
            "who am i speaking to | who am i speaking with | who am i talking with | "
            "what is your name | are you a robot | are you a human | are you human | "
            "are you a real person | are you a person | are you real | are you a bot | "
            "are you a computer | are you an ai | are you a machine | are you a nurse | "
            "are you a doctor | what can you do | what do you do | who made you | "
            "tell me about yourself | what should i call you"
        ),
    ),
    (
        "goodbye",
        _phrases(
            "bye | goodbye | bye bye | bye for now | see you | see ya | see you later | "
            "goodnight | good night | night night | that is all | that is all for today | "
            "that is all for now | that is everything | that is it | that is it for now | "
            "that is it for today | i am done | i am finished | talk later | "
            "talk to you later | speak later | speak to you later | take care | cheerio | "
            "ta ta | have a good day | have a good night | have a nice day | farewell | "
            "nothing else | no more questions | that will be all | i have to go | "
            "i need to go | i must go | got to go"
        ),
    ),
    (
        "thanks",
        _phrases(
            "thanks | thank you | thanks so much | thank you so much | thank you very much | "
            "thanks very much | thanks a lot | thanks a million | many thanks | cheers | ta | "
            "much appreciated | i appreciate it | i appreciate that | that really helps | "
            "that helps | that is helpful | that is very helpful | that is really helpful | "
            "that was helpful | that was very helpful | that was really helpful | "
            "you have been very helpful | you have been a great help | you are a star | "
            "brilliant thanks | lovely thanks | great thanks | thank you for your help | "
            "thanks for your help | thanks for that | thank you for that"
        ),
    ),
    (
        "greeting",
        _phrases(
            "hello | hi | hey | hiya | hi there | hello there | hey there | howdy | greetings | "
            "good morning | good afternoon | good evening | morning | afternoon | evening | "
            "are you there | is anyone there | is anybody there | can you hear me | "
            "how are you | how are you doing | how are you today | how is it going | "
            "nice to meet you | hello again | hi again | yo | hello aftercare | hi aftercare"
        ),
    ),
)
_PHRASES = tuple(
    sorted(
        ((kind, phrase.split()) for kind, phrases in _SMALLTALK for phrase in phrases),
        key=lambda item: len(item[1]),
        reverse=True,
    )
)
_FILLER = word_set(
    "ok okay oh well so right alright all great lovely brilliant perfect good nice "
    "yes yeah yep no then really very much again now for today just please doctor "
    "nurse aftercare mate love dear sir madam there and that is it you everyone folks "
    "fine cool wonderful fantastic excellent indeed anyway ah everybody"
)
_PRECEDENCE: tuple[SmalltalkKind, ...] = ("identity", "goodbye", "thanks", "greeting")


def is_smalltalk(text: str, normalised: str | None = None) -> SmalltalkKind | None:
    """The kind of smalltalk when the utterance is nothing else; None when it asks anything."""
    tokens = [t for t in _words(text, normalised).split() if t != "|"]
    # best[i]: the kinds found in some reading of tokens[:i] made only of smalltalk and filler.
    best: list[frozenset[SmalltalkKind] | None] = [None] * (len(tokens) + 1)
    best[0] = frozenset()
    for i in range(len(tokens)):
        here = best[i]
        if here is None:
            continue
        if tokens[i] in _FILLER and best[i + 1] is None:
            best[i + 1] = here
        for kind, phrase in _PHRASES:
            end = i + len(phrase)
            if tokens[i:end] == phrase:
                best[end] = (best[end] or frozenset()) | here | {kind}
    found = best[len(tokens)]
    if not found:
        return None
    return next(kind for kind in _PRECEDENCE if kind in found)
