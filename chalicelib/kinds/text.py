"""text: a free-text answer (a transcription, a short description, a name).

Answer: a string of at most max_length characters after normalisation: Unicode NFC, case
folded, whitespace collapsed, punctuation removed, each as the project sets it (the stored
answer is the normalised one, which is what the aggregation compares). Gold: word error rate
WER(answer, gold) ≤ gold_max_wer (0: the same normalised text). Reliability: how often the
worker's answer is within that WER of the published text. Aggregation: the answer closest to
the others weighted by reliability, or word-level fusion (ROVER, Fiscus 1997):
chalicelib.aggregation.by_kind. Result: the text and its agreement.
"""
import re
import unicodedata
from typing import Any, ClassVar, Literal

from pydantic import Field

from chalicelib.kinds.base import Kind, invalid

_SPACE = re.compile(r"\s+")
_APOSTROPHE = re.compile("[\u2019\u02bc]")
_LONE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def word_error_rate(hypothesis: str, reference: str) -> float:
    """Word-level Levenshtein distance over the reference's length (1.0 for an empty reference
    and a non-empty hypothesis)."""
    h, r = hypothesis.split(), reference.split()
    if not r:
        return 0.0 if not h else 1.0
    previous = list(range(len(h) + 1))
    for i, word in enumerate(r, 1):
        current = [i]
        for j, other in enumerate(h, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1] / len(r)


class Text(Kind):
    kind: Literal["text"] = "text"
    max_length: int = Field(1000, ge=1, le=20_000, description="Longest answer, in characters (after normalisation)")
    min_length: int = Field(1, ge=0, le=20_000, description="Shortest answer, in characters (after normalisation)")
    unicode_nfc: bool = Field(True, description="Compose Unicode (NFC): é typed two ways is one é")
    lowercase: bool = Field(False, description="Fold case")
    collapse_whitespace: bool = Field(True, description="Trim, and turn runs of spaces and line breaks into one space")
    strip_punctuation: bool = Field(False, description=(
        "Remove punctuation (Unicode category P) but an apostrophe inside a word, e.g. for transcriptions"))
    gold_max_wer: float = Field(0.0, ge=0, le=1, description=(
        "A gold answer is matched when the word error rate against it is at most this (0: same text)"))

    result_columns: ClassVar[tuple[str, ...]] = ("agreement",)

    def normalise(self, text: str) -> str:
        if self.unicode_nfc:
            text = unicodedata.normalize("NFC", text)
        if self.strip_punctuation:  # an apostrophe inside a word is kept: "darwin's" stays one word
            text = _APOSTROPHE.sub("'", text)
            text = "".join(" " if unicodedata.category(c).startswith("P") and c != "'" else c for c in text)
            text = _LONE_APOSTROPHE.sub(" ", text)
        if self.lowercase:
            text = text.casefold()
        if self.collapse_whitespace:
            text = _SPACE.sub(" ", text).strip()
        return text

    def check(self, answer: Any, payload: dict | None = None) -> str:
        if not isinstance(answer, str):
            raise invalid("The answer must be a text.", "not_a_text")
        text = self.normalise(answer)
        if len(text) > self.max_length:
            raise invalid(f"The answer is longer than {self.max_length} characters.", "text_too_long",
                          max_length=self.max_length)
        if len(text) < self.min_length:
            raise invalid(f"The answer is shorter than {self.min_length} characters.", "text_too_short",
                          min_length=self.min_length)
        return text

    def matches_gold(self, answer: Any, known: Any) -> bool:
        answer, known = self.normalise(answer), self.normalise(known)
        if self.gold_max_wer == 0:
            return answer == known
        return word_error_rate(answer, known) <= self.gold_max_wer + 1e-9

    def aggregation_config(self) -> dict:
        # Answers are stored normalised already; the aggregation compares them as they are.
        return {**super().aggregation_config(),
                "normalize": {"nfc": False, "case": False, "whitespace": False}}

    def result_fields(self, outcome) -> dict:
        agreement = (outcome.details or {}).get("agreement", outcome.confidence)
        return {"agreement": None if agreement is None else round(float(agreement), 6)}
