"""Presidio's analyzer, built once per process, with a blank spaCy pipeline: no trained model (none
is in the registry), nothing downloaded; the tokens and lower-cased words are what the context
checks of Presidio's own recognisers need."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

from bot.privacy import recognisers

# Presidio's entity names and ours: the category each stands for.
CATEGORY = {
    "UK_NHS": "nhs_number",
    "DATE_OF_BIRTH": "date_of_birth",
    "AGE": "age",
    "PERSON": "name",
    "ADDRESS": "address",
    "UK_POSTCODE": "postcode",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "CASE_REFERENCE": "case_reference",
    "UK_NINO": "ni_number",
}


def common_words() -> list[str]:
    """The words notes are mostly made of, none of them a note's: English's commonest (spaCy's stop
    words) and the lower-case words of how leads write to the bot (the intent corpus), each also as a
    sentence begins."""
    from spacy.lang.en.stop_words import STOP_WORDS

    corpus = (resources.files("bot.language") / "corpus.tsv").read_text(encoding="utf-8")
    lower = set(STOP_WORDS) | set(re.findall(r"(?<![A-Za-z'])[a-z]+(?![A-Za-z'])", corpus))
    return sorted(lower | {word.capitalize() for word in lower})


class BlankEngine(NlpEngine):
    """A tokenizer and no model: lemmas are the lower-cased words. The common words are tokenised once,
    outside any memory zone, so that a note's check makes only its uncommon words (a check takes a
    quarter less time); those, a child's name among them, are still forgotten after each check."""

    def __init__(self) -> None:
        self.nlp = spacy.blank("en")
        self.nlp.make_doc(" ".join(common_words()))

    def load(self) -> None:
        pass

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        doc = self.nlp(text)
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lower_ for t in doc],
            nlp_engine=self,
            language=language,
        )

    def process_batch(self, texts: object, language: str, batch_size: int = 1, n_process: int = 1, **kwargs: object):  # type: ignore[no-untyped-def]
        for text in texts:  # type: ignore[attr-defined]
            yield text, self.process_text(str(text), language)

    def is_stopword(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_stop)

    def is_punct(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_punct)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return ["en"]


@cache
def analyzer() -> AnalyzerEngine:
    # Presidio logs each analysis at INFO ("Fetching all recognizers..."): once per note is noise.
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    registry = RecognizerRegistry(
        recognizers=[
            recognisers.Nhs(),
            recognisers.nhs_as_written(),
            UkNinoRecognizer(),
            recognisers.ni_as_written(),
            recognisers.Phone(),
            recognisers.phone_shapes(),
            recognisers.date_of_birth(),
            recognisers.age(),
            recognisers.address(),
            recognisers.postcode(),
            recognisers.email(),
            recognisers.case_reference(),
            recognisers.Person(),
            recognisers.NamedAge(),
        ],
        supported_languages=["en"],
    )
    return AnalyzerEngine(registry=registry, nlp_engine=blank(), supported_languages=["en"])


@cache
def blank() -> BlankEngine:
    return BlankEngine()


_zone = threading.local()  # .open: this thread checks notes inside one zone (`many`)


@contextmanager
def many() -> Iterator[None]:
    """Notes checked one after another with nothing else between (an import's, an export's): inside one
    memory zone, so that a word met again is not made again (the privacy corpus's 466 notes took a
    quarter to a half less time this way), and all are forgotten once the last is checked. Not for a block
    that awaits: the zone is spaCy's, for the whole process, and zones must not be nested."""
    if getattr(_zone, "open", False):
        yield
        return
    with blank().nlp.memory_zone():
        _zone.open = True
        try:
            yield
        finally:
            _zone.open = False


def analyse(text: str) -> list[tuple[str, int, int]]:
    """(category, start, end) of every detail found in the plain text.

    Checked inside a spaCy memory zone: otherwise every word of every note checked (a child's name
    among them) would stay in spaCy's vocabulary for the life of the process, which would grow with
    each new word."""
    engine = analyzer()
    with many():
        results: list[RecognizerResult] = engine.analyze(text, language="en", regex_flags=re.MULTILINE)
    places = [(r.start, r.end) for r in results if r.entity_type == "ADDRESS"]
    return [
        (CATEGORY[r.entity_type], r.start, r.end)
        for r in results
        if r.entity_type in CATEGORY
        and not (r.entity_type == "PERSON" and any(s < r.end and r.start < e for s, e in places))
    ]
