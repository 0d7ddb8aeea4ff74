"""Reading a patient's message before anything answers it. Pure.

Real messages carry several sentences of history before one question ("I had my prostate
out eight months ago, my doctor said..., I've tried... Is this normal?"). Embedding the
whole text dilutes what is asked, so the message is read once into an ``Understanding``:
its sentences, the question(s) asked, the focused text to retrieve with, what kind of
answer is wanted, who is asking, how far into recovery he is, and the feeling it carries.
The original text stays for triage and for the escalation record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from escalation.triage.normalise import normalise
from ingestion.text import NEVER_FINAL, count_word

AnswerKind = Literal["when", "how_common", "normal", "can_i", "how_to", "why", "what", "other"]
Speaker = Literal["patient", "partner", "family"]
Feeling = Literal["frustration", "anger_at_team", "fear", "embarrassment", "grief"]

SHORT_MESSAGE_WORDS = 25
"""Messages up to this long are used whole: they are already one question."""

# A full stop after one of the shared abbreviations ("Dr.", "e.g.") does not end a sentence.
_ABBREVIATIONS = re.compile(
    r"\b(?:" + "|".join(re.escape(w) for w in sorted(NEVER_FINAL, key=len, reverse=True)) + r")\.",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\s*\n+\s*")

# Forum and clinic shorthand, as patients write it, mapped to the words the guides use.
_VOCABULARY: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"(?<![\w-]){pattern}(?![\w-])", re.IGNORECASE), plain)
    for pattern, plain in (
        (r"r\.?a\.?l\.?p|ralrp|rarp", "robotic prostatectomy"),
        (r"l\.?r\.?p", "keyhole prostatectomy"),
        (r"r\.?r\.?p", "open prostatectomy"),
        (r"(?:the )?da ?vinci(?: (?:surgery|operation|robot))?", "robotic surgery"),
        (r"(?<!\w)rp", "prostatectomy"),
        (r"post[- ]?op(?:erative(?:ly)?)?", "after the operation"),
        (r"pre[- ]?op(?:erative(?:ly)?)?", "before the operation"),
        (r"kegels?(?: exercises?)?", "pelvic floor exercises"),
        (r"pfe|pfmt", "pelvic floor exercises"),
        (r"depends|tena(?: pads?)?|nappies|diapers?|adult diapers?", "pads"),
        (r"ed", "erection problems"),
        (r"e\.d\.", "erection problems"),
        (r"viagra|cialis|levitra|spedra", "erection tablets"),
        (r"trimix|caverject|bimix", "erection injections"),
        (r"ved|penis pump|vacuum pump", "vacuum device"),
        (r"foley(?: catheter)?", "catheter"),
        (r"cath", "catheter"),
        (r"pee(?:ing)?|peeing|wee(?:ing)?", "urine"),
        (r"incontinent", "leaking urine"),
        (r"wks?", "weeks"),
        (r"mths?|mos", "months"),
        (r"yrs?", "years"),
        (r"hrs?", "hours"),
        (r"dr", "doctor"),
        (r"uro", "urologist"),
        (r"onc", "oncologist"),
        (r"bcr", "rising PSA after surgery"),
        (r"srt|salvage radiation|salvage radiotherapy", "radiotherapy after surgery"),
        (r"adt|hormone therapy", "hormone treatment"),
        (r"dvt", "blood clot in the leg"),
        (r"uti", "urine infection"),
        (r"climax", "orgasm"),
        (r"dribbl(?:e|es|ing)", "leaking"),
    )
)

_QUESTION_START = re.compile(
    r"^(?:so |and |but |also |ok |okay |well |please |hi |hello )*"
    r"(?:how|what|whats|what's|when|why|where|which|who|whom|whose|is|are|am|was|were|can|could"
    r"|should|shall|will|would|do|does|did|has|have|had|may|might|must|any|anyone|anybody"
    r"|has anyone|does anyone|is there|are there)\b",
    re.IGNORECASE,
)
_INDIRECT_QUESTION = re.compile(
    r"\b(?:i (?:wonder|was wondering|am wondering|'m wondering)|wondering (?:if|whether|when|how)"
    r"|(?:want|like|need) to know|any (?:advice|tips|suggestions|ideas|thoughts|help)"
    r"|advice (?:please|welcome|appreciated)|please (?:advise|help|tell)|tell me (?:if|whether"
    r"|when|how|what)|not sure (?:if|whether|when|how|what)|i (?:would|'d) (?:love|like) to hear"
    r"|can (?:anyone|someone|you) (?:tell|help|explain))\b",
    re.IGNORECASE,
)
# A question that needs the sentence before it to mean anything.
_VAGUE_QUESTION = re.compile(
    r"^(?:so |and |but |also )*(?:is (?:this|that|it) (?:normal|ok|okay|common|usual|a problem"
    r"|something to worry about|expected)|should i (?:be )?(?:worried|concerned)|what (?:should|c"
    r"an|do)"
    r" (?:i|we) do|any (?:advice|tips|suggestions|ideas|thoughts)|has anyone (?:else )?"
    r"(?:had|experienced|been through)|does anyone (?:else )?(?:have|know)|what do you (?:think|s"
    r"uggest)"
    r"|is there anything|what now|why|how long will (?:this|it) (?:last|take|go on))\b",
    re.IGNORECASE,
)

_KIND_PATTERNS: tuple[tuple[AnswerKind, re.Pattern[str]], ...] = (
    (
        "how_common",
        re.compile(
            r"\bhow (?:common|likely|many (?:men|people|patients|guys))|\b(?:what|what's)"
            r" (?:are|is) (?:the |my )?(?:chances?|odds|likelihood|risk|percentage|statistics)"
            r"|\bchances? (?:of|that)\b|\bdo most (?:men|guys)|\bhow many of\b|\bwhat percentage"
            r"|\bhow rare\b|\bis it (?:common|rare|usual) (?:for|to)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "when",
        re.compile(
            r"\bhow long\b|\bhow soon\b|\bwhen (?:can|will|should|do|does|is|am|are|would|could"
            r"|might|may|did|to)\b|\bhow many (?:days|weeks|months|years|hours)\b|\buntil when\b"
            r"|\bhow much longer\b|\bwhat (?:time ?frame|timeline|timescale)\b"
            r"|\bhow quickly\b|\bbefore (?:i|he) can\b|\bhow often\b",
            re.IGNORECASE,
        ),
    ),
    (
        "normal",
        re.compile(
            r"\bis (?:this|that|it|my|his|the)?\s?\w* ?(?:normal|usual|expected|typical|common)\b"
            r"|\b(?:normal|usual|expected|typical) (?:to|for|after|that)\b|\bshould (?:i|we)"
            r" (?:be )?(?:worried|concerned)|\bsomething to worry about\b|\bis this a (?:problem|"
            r"concern)",
            re.IGNORECASE,
        ),
    ),
    (
        "how_to",
        re.compile(
            r"\bhow (?:do|can|should|would|could) (?:i|we|you|he|one)\b|\bhow to\b"
            r"|\bwhat (?:else )?(?:can|should|could|do) (?:i|we|he) do\b|\b(?:ways|tips|advice) ("
            r"?:to|for|on)\b"
            r"|\bany (?:tips|advice|suggestions)\b|\bwhat helps\b|\bwhat works\b",
            re.IGNORECASE,
        ),
    ),
    (
        "can_i",
        re.compile(
            r"\b(?:can|may|could|should|shall) (?:i|he|we|my husband|my partner)\b"
            r"|\bis it (?:ok|okay|safe|alright|all right|fine|allowed|wise|a good idea) (?:to|for"
            r"|if)"
            r"|\b(?:am i|is he) (?:allowed|able|ok|okay|safe)\b|\bdo i (?:need|have) to\b"
            r"|\bwill i be able\b",
            re.IGNORECASE,
        ),
    ),
    ("why", re.compile(r"\bwhy\b|\bwhat (?:for|causes)\b|\bthe (?:reason|point) ", re.IGNORECASE)),
    (
        "what",
        re.compile(
            r"\bwhat (?:is|are|does|do|was|'s)\b|\bwhats\b|\bwhat happens\b"
            r"|\bmean(?:s|ing)?\b|\bexplain\b",
            re.IGNORECASE,
        ),
    ),
)

_NUMBER = (
    r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|sever"
    r"al|a couple of|a|an)"
)
_SPAN = re.compile(
    rf"\b{_NUMBER}(?:\s?(?:to|-|or|and)\s?{_NUMBER})? (?:days?|weeks?|months?|years?|hours?|night"
    rf"s?)\b"
    r"|\b(?:until|once|as soon as|within|straight away|right away|for life|permanent|temporar)"
    r"|\b(?:after|before) (?!(?:this|the|your|an|his|my) (?:operation|surgery|op|prostatectomy)\b)"
    r"|\b\d+ times\b|\btimes a (?:day|week)\b|\bevery (?:day|morning|night|week)\b|\bdaily\b",
    re.IGNORECASE,
)
_CONTENT_PATTERNS: dict[AnswerKind, re.Pattern[str]] = {
    "when": _SPAN,
    "how_common": re.compile(
        r"\b\d+ (?:in|out of) \d+\b|\b(?:one|two|three|four|five|six|seven|eight|nine) in"
        r" (?:ten|\d+)\b|\d+ ?(?:%|per ?cent)|\b(?:most|many|some|few|a few|nearly all|almost all"
        r"|half|a third|a quarter|the majority|a minority) (?:of )?(?:men|people|patients)\b",
        re.IGNORECASE,
    ),
    "normal": re.compile(
        r"\b(?:normal|common|usual|expected|to be expected|many men|most men|lots of men"
        r"|nothing to worry|settles?|improves?|gets? better)\b",
        re.IGNORECASE,
    ),
    "can_i": re.compile(
        r"\b(?:can|can't|cannot|should|shouldn't|may|must|avoid|do not|don't|never|safe|allowed"
        r"|fine to|ok to|okay to|until|once|wait|no need|best not)\b",
        re.IGNORECASE,
    ),
    "how_to": re.compile(
        r"^(?:try|use|keep|make|start|drink|eat|wash|squeeze|hold|sit|lie|walk|wear|take|put"
        r"|empty|change|clean|attach|avoid|do|practise|practice|tighten|relax|ask|talk|tell"
        r"|plan|stop|get|go)\b|\b(?:you can|try to|it helps|helps to|the best way|make sure"
        r"|start by|by (?:\w+ing)|steps?)\b",
        re.IGNORECASE,
    ),
    "why": re.compile(
        r"\b(?:because|so that|in order to|this is why|the reason|which is why|to check|to see"
        r"|checks? (?:whether|if|for|that)|looks? for"
        r"|to make sure|to find|to look for|to spot|helps?|so (?:you|your|the|it)|this means"
        r"|which means|can mean|shows?|tells?)\b",
        re.IGNORECASE,
    ),
    "what": re.compile(
        r"\b(?:is a|is an|are a|means|stands for|measures|is called|are called|is when|is the"
        r" name|refers to|is made)\b",
        re.IGNORECASE,
    ),
}
_DURATION = re.compile(
    r"\bhow (?:long|soon|quickly|much longer)\b|\bhow many (?:days|weeks|months|years|hours)\b"
    r"|\bwhat (?:time ?frame|timeline|timescale)\b",
    re.IGNORECASE,
)

_PARTNER = re.compile(
    r"\b(?:my (?:husband|hubby|partner|boyfriend|fianc[eé]|other half|spouse|man)|he(?:'s| has| h"
    r"ad"
    r"| is| was)? (?:had|has) (?:his|a|the) (?:prostate|surgery|operation|prostatectomy)"
    r"|his (?:surgery|operation|prostatectomy|catheter|psa))\b",
    re.IGNORECASE,
)
_FAMILY = re.compile(
    r"\bmy (?:dad|father|brother|son|uncle|grand(?:dad|father|pa)|father-in-law|step-?father)\b",
    re.IGNORECASE,
)

_TIME_SINCE = re.compile(
    rf"\b(?P<num>{_NUMBER}) (?P<unit>days?|weeks?|months?|years?)"
    r"(?: (?:ago|post|out|after|since|on from|into)| post[- ]?op| since (?:my|his|the) (?:surgery"
    r"|op"
    r"|operation|prostatectomy))",
    re.IGNORECASE,
)
_UNIT_WEEKS = {"day": 1 / 7, "week": 1.0, "month": 4.345, "year": 52.18}

_FEELINGS: tuple[tuple[Feeling, re.Pattern[str]], ...] = (
    (
        "anger_at_team",
        re.compile(
            r"\b(?:no ?one|nobody|noone|they never|the (?:doctors?|surgeon|nurses?|hospital|team)"
            r" (?:never|did not|didn't|didnt))\s(?:\w+ ){0,3}?(?:told|tell|warned|warn|explained"
            r"|explain|mentioned|mention|said|prepared)\b|\bwhy (?:did|didn't|didnt) (?:no ?one|n"
            r"obody"
            r"|anyone|they|the (?:doctors?|surgeon|nurses?|team))\s(?:\w+ ){0,2}?(?:tell|warn"
            r"|explain|mention)|\b(?:angry|furious|livid) (?:with|at) (?:the|my) (?:doctors?|surg"
            r"eon"
            r"|urologist|nurses?|hospital|team|consultant)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "frustration",
        re.compile(
            r"\b(?:frustrat\w*|fed up|sick (?:and tired )?of|had enough|so annoying|annoyed"
            r"|at my wits'? end|exasperat\w*|angry|furious|getting nowhere|nothing (?:is )?working"
            r"|nothing helps|not (?:getting|got) any better|losing patience)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "embarrassment",
        re.compile(
            r"\b(?:embarrass\w*|ashamed|humiliat\w*|mortified|awkward (?:to|asking)|shame)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "grief",
        re.compile(
            r"\b(?:griev\w*|heartbroken|devastated|mourn\w*|less of a man|not the same man"
            r"|miss (?:being|the way|having|our)|lost (?:my|our) (?:sex life|manhood|intimacy)"
            r"|so sad|feel(?:ing)? sad|depressing)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "fear",
        re.compile(
            r"\b(?:scared|afraid|frightened|terrified|worried sick|so worried|really worried"
            r"|very worried|anxious|panick\w*|petrified|dread\w*|fear(?:ful)?)\b",
            re.IGNORECASE,
        ),
    ),
)


_GREETING = re.compile(r"^(?:hi|hello|hey|thanks|thank you|dear|morning|evening)\b", re.IGNORECASE)
# Words that name what recovery questions are about; used only to pick context sentences.
_TOPIC = re.compile(
    r"\b(?:leak\w*|pads?|dry|wet|continen\w*|incontinen\w*|dribbl\w*|catheter|bag|erections?"
    r"|erectile|sex\w*|orgasm\w*|climax\w*|ejaculat\w*|psa|wound|scar|incision|pain\w*|sore"
    r"|tired\w*|fatigue|bowels?|constipat\w*|driv\w*|lift\w*|exercis\w*|walk\w*|cycl\w*|bike"
    r"|work\w*|urine|urinat\w*|bladder|night|pelvic|kegels?|tablets?|viagra|cialis|injections?"
    r"|pump|fertil\w*|sperm|mood|depress\w*|cancer|recurr\w*|radiotherap\w*|penis|shrink\w*"
    r"|numb\w*|swell\w*|bleed\w*|blood|depends|nappies|diapers?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Understanding:
    """One message, read once."""

    text: str
    sentences: tuple[str, ...]
    questions: tuple[str, ...]
    focus: str
    """What retrieval and the composers answer: the first real question with the context it
    needs, patients' shorthand written out."""
    kind: AnswerKind
    strict: bool
    """The answer must hold the asked content (a duration, a proportion) or not be spoken."""
    speaker: Speaker
    weeks_since_surgery: float | None
    feeling: Feeling | None
    other_questions: tuple[str, ...]
    """Further questions in the same message, for the care team."""
    normalised: str
    """The whole message as the rules read it (``escalation.triage.normalise``), read once
    for triage, intents and scope."""

    @property
    def long(self) -> bool:
        return len(self.text.split()) > SHORT_MESSAGE_WORDS


def plain_words(text: str) -> str:
    """Patients' shorthand written as the guides write it ("6 wks post RALP")."""
    for pattern, plain in _VOCABULARY:
        text = pattern.sub(plain, text)
    return text


def split_message(text: str) -> list[str]:
    """Sentences of a patient's message: any case, any punctuation, line breaks count."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\x00"), text)
    parts = [p.replace("\x00", ".").strip() for p in _SENTENCE_END.split(protected)]
    return [p for p in parts if p and re.search(r"[A-Za-z0-9]", p)]


def is_question(sentence: str) -> bool:
    stripped = sentence.strip()
    return (
        stripped.endswith("?")
        or bool(_QUESTION_START.match(stripped))
        or bool(_INDIRECT_QUESTION.search(stripped))
    )


def answer_kind(question: str) -> AnswerKind:
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return "other"


def is_strict(question: str) -> bool:
    kind = answer_kind(question)
    return kind == "how_common" or (kind == "when" and bool(_DURATION.search(question)))


def holds_kind(sentence: str, kind: AnswerKind) -> bool:
    """Whether a guide sentence carries the kind of content the question asks for."""
    pattern = _CONTENT_PATTERNS.get(kind)
    return True if pattern is None else bool(pattern.search(sentence.strip()))


def feeling_in(text: str) -> Feeling | None:
    for feeling, pattern in _FEELINGS:
        if pattern.search(text):
            return feeling
    return None


def weeks_since_surgery(text: str) -> float | None:
    match = _TIME_SINCE.search(text)
    if match is None:
        return None
    raw = match["num"].lower()
    count = float(raw) if raw[0].isdigit() else (count_word(raw) or 1.0)
    unit = match["unit"].lower().rstrip("s")
    return round(count * _UNIT_WEEKS[unit], 1)


def understand(text: str) -> Understanding:
    sentences = split_message(text) or [text.strip()]
    questions = [s for s in sentences if is_question(s)]
    speaker: Speaker = (
        "partner" if _PARTNER.search(text) else "family" if _FAMILY.search(text) else "patient"
    )
    if len(text.split()) <= SHORT_MESSAGE_WORDS or len(sentences) == 1:
        focus = text.strip()
        others: list[str] = []
    else:
        focus, others = _focus(sentences, questions)
    return Understanding(
        text=text,
        sentences=tuple(sentences),
        questions=tuple(questions),
        focus=plain_words(focus),
        kind=answer_kind(focus),
        strict=is_strict(focus),
        speaker=speaker,
        weeks_since_surgery=weeks_since_surgery(text),
        feeling=feeling_in(text),
        other_questions=tuple(others),
        normalised=normalise(text),
    )


def _focus(sentences: list[str], questions: list[str]) -> tuple[str, list[str]]:
    """The first real question, with the sentence before it when it cannot stand alone."""
    if not questions:
        # Only context ("Catheter comes out tomorrow!"): the last sentences say what matters.
        return " ".join(sentences[-2:]), []
    # Greetings and "has anyone had this?" are not the question when a real one follows.
    real = [q for q in questions if not _VAGUE_QUESTION.match(q.strip())]
    chosen = real[0] if real else questions[0]
    index = sentences.index(chosen)
    parts = [chosen]
    if _needs_context(chosen) and index > 0:
        parts.insert(0, _context_before(sentences, index))
    others = [q for q in real if q != chosen and not _same_topic(q, chosen)]
    return " ".join(parts), others


def _needs_context(question: str) -> bool:
    words = re.findall(r"[a-z']+", question.lower())
    pronoun_led = bool(re.search(r"\b(?:this|that|it|these|they|them|things)\b", question.lower()))
    return bool(_VAGUE_QUESTION.match(question.strip())) or len(words) < 8 or pronoun_led


def _context_before(sentences: list[str], index: int) -> str:
    """What the question is about: the nearest earlier sentence naming a recovery topic,
    and the one naming the most of them when that is another sentence."""
    earlier = [
        (k, sentences[k])
        for k in range(index - 1, -1, -1)
        if len(sentences[k].split()) >= 3 and not _GREETING.match(sentences[k])
    ]
    if not earlier:
        return sentences[index - 1]
    scored = [(len(_TOPIC.findall(text)), k, text) for k, text in earlier]
    nearest = next(((k, text) for n, k, text in scored if n), earlier[0])
    richest = max(scored, key=lambda item: (item[0], item[1]))
    chosen = {nearest[0]: nearest[1]}
    if richest[0] and richest[1] != nearest[0]:
        chosen[richest[1]] = richest[2]
    return " ".join(text for _, text in sorted(chosen.items()))


def _same_topic(a: str, b: str) -> bool:
    wa = {w for w in re.findall(r"[a-z]{4,}", a.lower())}
    wb = {w for w in re.findall(r"[a-z]{4,}", b.lower())}
    return bool(wa) and len(wa & wb) / len(wa) >= 0.5
