"""The intent classifier: a linear support-vector model over word and character n-grams (scikit-learn),
trained from the labelled corpus kept beside this module (`corpus.tsv`).

The corpus is the source of truth: it is read and the model fitted once per process (well under a
second), so there is no trained file to fall out of step with it. The classifier sees the message
delexicalised: action references, dates and the sub-group named become the placeholders `zref`,
`zdate` and `zgroup`, so it learns how people ask, not which sub-groups a partnership has.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.language.intents import IntentName
from bot.language.slots import DATE, REF, Span, normal, replace_spans

BRACED = re.compile(r"\{([^{}]+)\}")
WORD = re.compile(r"[a-z][a-z']*")
MIN_CORRECTED = 3
WORD_TOKENS = re.compile(r"[\w'&]+")
WHITE = re.compile(r"\s\s+")
CHARS = (2, 5)
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


def pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    return Pipeline(
        [
            (
                "ngrams",
                FeatureUnion(
                    [
                        (
                            "words",
                            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_TOKENS.pattern),
                        ),
                        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=CHARS, sublinear_tf=True)),
                    ]
                ),
            ),
            ("model", LinearSVC(C=1.0, random_state=0)),
        ]
    )


@dataclass(frozen=True)
class Vectoriser:
    """One fitted TfidfVectorizer as data: its terms, their idf, and how text is cut into terms."""

    terms: dict[str, int]
    idf: np.ndarray[Any, np.dtype[np.float64]]
    offset: int  # where its columns start in the model's weights

    def weighed(self, terms: list[str]) -> tuple[list[int], np.ndarray[Any, np.dtype[np.float64]]]:
        """Columns and tf-idf values (sublinear tf, l2-normalised), as scikit-learn computes them."""
        counts = Counter(t for t in terms if t in self.terms)
        if not counts:
            return [], np.zeros(0)
        columns = [self.terms[t] for t in counts]
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[columns]
        return [c + self.offset for c in columns], values / np.sqrt(values @ values)


def word_terms(text: str) -> list[str]:
    """scikit-learn's word analyzer for ngram_range (1, 2) and WORD_TOKENS."""
    tokens = WORD_TOKENS.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def char_terms(text: str) -> list[str]:
    """scikit-learn's char_wb analyzer for ngram_range CHARS: n-grams inside each padded word."""
    found = []
    for word in WHITE.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(CHARS[0], CHARS[1] + 1):
            if len(padded) <= n:
                found.append(padded)  # a word no longer than n counts once, whole, and ends the word
                break
            found.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return found


class IntentModel:
    """The fitted model as plain arrays: scoring a message needs neither scikit-learn nor its
    per-call overhead, and the arrays can be kept on disk between runs."""

    def __init__(
        self,
        labels: list[IntentName],
        words: Vectoriser,
        chars: Vectoriser,
        coef: np.ndarray[Any, np.dtype[np.float64]],
        intercept: np.ndarray[Any, np.dtype[np.float64]],
        vocabulary: Counter[str],
    ) -> None:
        self.labels, self.words_v, self.chars_v = labels, words, chars
        self.coef, self.intercept = coef, intercept
        self.words = vocabulary  # every word of the training utterances, with how often it occurs
        self.known = sorted(w for w in vocabulary if len(w) >= MIN_CORRECTED)

    @classmethod
    def train(cls, examples: Iterable[Example]) -> IntentModel:
        chosen = list(examples)
        texts = [example_features(e) for e in chosen]
        return cls.from_fitted(pipeline().fit(texts, [e.label.value for e in chosen]), texts)

    @classmethod
    def from_fitted(cls, fitted: Any, texts: list[str]) -> IntentModel:
        """The arrays of a fitted `pipeline()`; `texts` are what it was trained on (for mending typos)."""
        (_, words), (_, chars) = fitted.named_steps["ngrams"].transformer_list
        svm = fitted.named_steps["model"]
        return cls(
            [IntentName(label) for label in fitted.classes_],
            Vectoriser(dict(words.vocabulary_), words.idf_, 0),
            Vectoriser(dict(chars.vocabulary_), chars.idf_, len(words.vocabulary_)),
            np.asarray(svm.coef_, dtype=np.float64),
            np.asarray(svm.intercept_, dtype=np.float64),
            Counter(w for text in texts for w in WORD.findall(text)),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            partial,
            labels=np.array([n.value for n in self.labels]),
            word_terms=np.array(sorted(self.words_v.terms, key=self.words_v.terms.__getitem__)),
            word_idf=self.words_v.idf,
            char_terms=np.array(sorted(self.chars_v.terms, key=self.chars_v.terms.__getitem__)),
            char_idf=self.chars_v.idf,
            coef=self.coef,
            intercept=self.intercept,
            vocabulary=np.array(list(self.words)),
            counts=np.array(list(self.words.values())),
        )
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            word_terms = [str(t) for t in data["word_terms"]]
            return cls(
                [IntentName(str(label)) for label in data["labels"]],
                Vectoriser({t: i for i, t in enumerate(word_terms)}, data["word_idf"], 0),
                Vectoriser({str(t): i for i, t in enumerate(data["char_terms"])}, data["char_idf"], len(word_terms)),
                data["coef"],
                data["intercept"],
                Counter(dict(zip((str(w) for w in data["vocabulary"]), (int(c) for c in data["counts"]), strict=True))),
            )

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

    def margins(self, text: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        w_cols, w_vals = self.words_v.weighed(word_terms(text))
        c_cols, c_vals = self.chars_v.weighed(char_terms(text))
        margins: np.ndarray[Any, np.dtype[np.float64]] = (
            self.coef[:, w_cols + c_cols] @ np.concatenate([w_vals, c_vals]) + self.intercept
        )
        return margins

    def scores(self, text: str) -> list[tuple[IntentName, float]]:
        """Every intent with its score (the model's margin: above 0 it says yes), the likeliest first."""
        return sorted(zip(self.labels, (float(m) for m in self.margins(text)), strict=True), key=lambda s: -s[1])


MODEL_FORMAT = "2"  # bump when the features or the way they are weighed change


def model_file() -> Path:
    """Where the model trained on this corpus is kept between runs: named by what it was trained on."""
    text = (resources.files("bot.language") / "corpus.tsv").read_bytes()
    digest = hashlib.sha256(text + MODEL_FORMAT.encode()).hexdigest()[:16]
    root = os.environ.get("PLAN_TRACKER_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "plan-tracker" / f"intents-{digest}.npz"


@cache
def model() -> IntentModel:
    """The model trained on the whole corpus: read from the cache when this corpus was trained on
    before, otherwise trained now (under a second) and kept."""
    path = model_file()
    try:
        return IntentModel.load(path)
    except (OSError, ValueError, KeyError):
        trained = IntentModel.train(corpus())
        with contextlib.suppress(OSError):  # a read-only home: train again next time
            trained.save(path)
        return trained


def warm() -> None:
    """Train now (at start-up) rather than on the first message."""
    model().scores("my actions")
