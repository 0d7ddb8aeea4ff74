"""How patients' words arrive, mapped to the words the rules read. Pure tables.

Contractions (typed with or without the apostrophe), speech-recognition slips and
spellings seen in transcripts, spoken fillers, and the keywords a typed word with two
letters swapped is read as.
"""

from __future__ import annotations

from ingestion.text import word_set

CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bshan't\b", "shall not"),
    (r"\bain't\b", "is not"),
    (r"n't\b", " not"),
    (r"'m\b", " am"),
    (r"'re\b", " are"),
    (r"'ve\b", " have"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (
        r"\b(he|she|it|that|there|what|who|where|here|how|this|nothing|everything|something"
        r"|someone|somebody|everyone|nobody)'s\b",
        r"\1 is",
    ),
    (r"'s\b", ""),
)

# Spoken or typed without the apostrophe, as speech recognisers often write them.
BARE_CONTRACTIONS = {
    "cant": "can not",
    "wont": "will not",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "hasnt": "has not",
    "havent": "have not",
    "hadnt": "had not",
    "couldnt": "could not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "im": "i am",
    "ive": "i have",
    "thats": "that is",
    "theres": "there is",
    "whats": "what is",
    "hes": "he is",
    "gonna": "going to",
    "gunna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "kinda": "kind of",
    "dunno": "do not know",
    "outta": "out of",
    "id": "i would",
    "youre": "you are",
}

# Speech-recognition slips and spellings seen in transcripts, mapped to the word meant.
SLIPS = {
    "cathedar": "catheter",
    "catheater": "catheter",
    "cathater": "catheter",
    "catheder": "catheter",
    "cathiter": "catheter",
    "cathetor": "catheter",
    "catherter": "catheter",
    "cathator": "catheter",
    "catheters": "catheter",
    "cathedars": "catheter",
    "catheterr": "catheter",
    "cathter": "catheter",
    "catheather": "catheter",
    "catheeter": "catheter",
    "caff": "calf",
    "carf": "calf",
    "calve": "calf",
    "calfs": "calves",
    "cav": "calf",
    "temp": "temperature",
    "temps": "temperature",
    "temprature": "temperature",
    "temperture": "temperature",
    "tempreture": "temperature",
    "tempature": "temperature",
    "temperatue": "temperature",
    "feaver": "fever",
    "fevor": "fever",
    "fevah": "fever",
    "feva": "fever",
    "puss": "pus",
    "vomitting": "vomiting",
    "vomitted": "vomited",
    "stomache": "stomach",
    "tummys": "tummy",
    "urin": "urine",
    "sucidal": "suicidal",
    "suicidle": "suicidal",
    "suicidial": "suicidal",
    "clods": "clots",
    "breathe's": "breathes",
    "breathles": "breathless",
    "diarrhoea": "diarrhea",
    "wounds": "wound",
    "thermometre": "thermometer",
    "farenheit": "fahrenheit",
    "fahrenheight": "fahrenheit",
    "celcius": "celsius",
    "centigrade": "celsius",
    "mottling": "mottled",
    "slured": "slurred",
    "sluring": "slurring",
    "confussed": "confused",
    "alot": "a lot",
    "abit": "a bit",
}

FILLERS = word_set("um umm ummm uh uhh uhm erm er ah ahh eh hmm hm mm mmm uhhh")
# Words the rules and intents hinge on. A typed or transcribed word that is one of these
# with two neighbouring letters swapped ("berath", "fianted", "sohuld") is read as it.
_KEYWORDS = word_set(
    "breath breathe breathing breathless collapsed collapse fainted faint fainting passed"
    " myself kill killing suicide suicidal harm hurting chest pressure coughing cough blood"
    " bleeding bleed clots clotted catheter draining drained drain filling filled blocked"
    " bladder temperature fever feverish shivering shaking shivers chills confused slurred"
    " mottled swollen swelling calf calves leg legs wound weeping oozing smelly vomiting"
    " vomit belly stomach tummy abdomen urine burgundy burning stinging should could would"
    " thanks thank goodnight afternoon morning evening hello goodbye cheers climax orgasm"
    " worried worry unable cannot nothing since hours pain painful severe terrible awful"
    " person someone somebody human nurse doctor speak talk"
)


def untransposed(word: str) -> str:
    """The keyword a word is with two neighbouring letters swapped back, or the word."""
    if len(word) < 5 or word in _KEYWORDS:
        return word
    for i in range(len(word) - 1):
        swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if swapped in _KEYWORDS:
            return swapped
    return word
