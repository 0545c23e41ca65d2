"""The intent classifier: a linear support-vector model over word and character n-grams (scikit-learn),
trained from the labelled corpus kept beside this module (`corpus.tsv`).

The corpus is the source of truth: it is read and the model fitted once per process (well under a
second), so there is no trained file to fall out of step with it. The classifier sees the message
delexicalised: action references, dates and the sub-group named become the placeholders `zref`,
`zdate` and `zgroup`, so it learns how people ask, not which sub-groups a partnership has.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from bot.language.intents import IntentName
from bot.language.slots import DATE, REF, Span, normal, replace_spans

BRACED = re.compile(r"\{([^{}]+)\}")
WORD = re.compile(r"[a-z][a-z']*")
MIN_CORRECTED = 3
GROUP, REF_TOKEN, DATE_TOKEN = "zgroup", "zref", "zdate"


@dataclass(frozen=True)
class Example:
    label: IntentName
    text: str  # as written in the corpus: sub-group names in braces
    line: int

    @property
    def plain(self) -> str:
        """As a person would type it."""
        return BRACED.sub(r"\1", self.text)

    @property
    def subgroup(self) -> str | None:
        m = BRACED.search(self.text)
        return m[1] if m else None


def read_corpus(text: str) -> list[Example]:
    """`label<TAB>utterance` lines; `#` starts a comment. A line that is neither is an error."""
    examples = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        label, sep, utterance = line.partition("\t")
        if not sep or not utterance.strip():
            raise ValueError(f"corpus line {number}: write it as label<TAB>utterance")
        try:
            examples.append(Example(IntentName(label.strip()), utterance.strip(), number))
        except ValueError:
            raise ValueError(f"corpus line {number}: '{label}' is not an intent") from None
    return examples


@cache
def corpus() -> tuple[Example, ...]:
    return tuple(read_corpus((resources.files("bot.language") / "corpus.tsv").read_text(encoding="utf-8")))


def features(said: str, group: Span | None = None) -> str:
    """What the classifier reads: the `normal` text, the sub-group, references and dates as placeholders."""
    spans = [(group, GROUP)] if group else []
    text = replace_spans(said, spans)
    text = REF.sub(f" {REF_TOKEN} ", text)
    text = DATE.sub(f" {DATE_TOKEN} ", text)
    return " ".join(text.split())


def example_features(example: Example) -> str:
    return features(normal(BRACED.sub(f" {GROUP} ", example.text)))


def pipeline() -> Pipeline:
    return Pipeline(
        [
            (
                "ngrams",
                FeatureUnion(
                    [
                        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[\w'&]+")),
                        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
                    ]
                ),
            ),
            ("model", LinearSVC(C=1.0)),
        ]
    )


class IntentModel:
    def __init__(self, fitted: Pipeline, words: Counter[str]) -> None:
        self.fitted = fitted
        self.labels = [IntentName(label) for label in fitted.classes_]
        self.words = words  # every word of the training utterances, with how often it occurs
        self.known = sorted(w for w in words if len(w) >= MIN_CORRECTED)

    @classmethod
    def train(cls, examples: Iterable[Example]) -> IntentModel:
        chosen = list(examples)
        texts = [example_features(e) for e in chosen]
        fitted = pipeline().fit(texts, [e.label.value for e in chosen])
        return cls(fitted, Counter(w for text in texts for w in WORD.findall(text)))

    def corrected(self, text: str) -> str:
        """Slips of the keyboard mended against the corpus's own words: "hlep" is "help", "upadte" "update".

        A word the corpus does not know becomes the most frequent corpus word one edit away (two for
        long words), if there is one; anything else is left as written.
        """
        return WORD.sub(lambda m: self._closest(m.group()), text)

    def _closest(self, word: str) -> str:
        if word in self.words or len(word) < MIN_CORRECTED or not word.isalpha():
            return word
        limit = 1 if len(word) < 7 else 2
        near = process.extract(word, self.known, scorer=OSA.distance, score_cutoff=limit, limit=None)
        if not near:
            return word
        return max(near, key=lambda found: (-found[1], self.words[found[0]]))[0]

    def scores(self, text: str) -> list[tuple[IntentName, float]]:
        """Every intent with its score (the model's margin: above 0 it says yes), the likeliest first."""
        margins = self.fitted.decision_function([text])[0]
        return sorted(zip(self.labels, (float(m) for m in margins), strict=True), key=lambda s: -s[1])


@cache
def model() -> IntentModel:
    """The model trained on the whole corpus, once per process."""
    return IntentModel.train(corpus())


def warm() -> None:
    """Train now (at start-up) rather than on the first message."""
    model().scores("my actions")
