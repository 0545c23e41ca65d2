"""The language report (`make language-report`): how well the recogniser understands the corpus.

Five-fold cross-validation: the model is trained on four fifths of the corpus and the whole
recogniser (classifier, slot readers and update rules together) reads the fifth it has not seen,
as a person's message, against the sub-groups of the demo plan that the utterance names. Prints
accuracy per intent, the confusion between intents, every utterance misread, and whether the
targets are met (97% overall, no intent under 90%). An update that the bot asks about before
storing counts as understood (nothing is lost), and is counted separately.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from sklearn.model_selection import StratifiedKFold

from bot.demo import demo_files
from bot.language.classifier import Example, IntentModel, corpus
from bot.language.intents import IntentName
from bot.language.recogniser import recognise, vocabulary
from bot.language.slots import normal
from bot.language.subgroups import SubgroupIndex
from storage.planfile import load_plan_file

OVERALL_TARGET, INTENT_TARGET = 0.97, 0.90
FOLDS, SEED = 5, 20261130


@dataclass(frozen=True)
class Outcome:
    example: Example
    said: IntentName
    asked: bool  # an update the bot asks about before storing
    group_ok: bool  # the sub-group named was found, and no other


def demo_vocabularies() -> list[tuple[SubgroupIndex, dict[str, str]]]:
    """Each demo partnership's sub-group index, with its names and aliases -> the sub-group's name."""
    found = []
    for path in demo_files():
        spec = load_plan_file(path)
        groups = [(g.name, g.aliases) for g in spec.subgroups]
        found.append((vocabulary(groups), {normal(n): g for g, a in groups for n in (g, *a)}))
    return found


def vocabulary_for(example: Example, vocabularies: list[tuple[SubgroupIndex, dict[str, str]]]) -> SubgroupIndex:
    """The partnership whose sub-groups the utterance names (the first demo plan if it names none)."""
    if example.subgroup:
        for index, _ in vocabularies:
            if index.find(normal(example.subgroup)):
                return index
    return vocabularies[0][0]


def evaluate(examples: list[Example]) -> list[Outcome]:
    vocabularies = demo_vocabularies()
    labels = [e.label.value for e in examples]
    outcomes = []
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(examples, labels):
        model = IntentModel.train(examples[i] for i in train)
        for i in test:
            example = examples[i]
            index = vocabulary_for(example, vocabularies)
            intent = recognise(example.plain, index, model)
            expected_group = (
                (index.find(normal(example.subgroup)) or index.find(normal(example.plain)))
                if example.subgroup
                else None
            )
            group_ok = (intent.subgroup is None) == (expected_group is None) or intent.name is IntentName.UPDATE
            if expected_group and intent.subgroup and intent.name is not IntentName.UPDATE:
                group_ok = index.canonical.get(intent.subgroup) == index.canonical.get(expected_group.name)
            outcomes.append(Outcome(example, intent.name, intent.confirm, group_ok))
    return outcomes


def main() -> int:
    examples = list(corpus())
    outcomes = evaluate(examples)
    right = [o for o in outcomes if o.said is o.example.label]
    by_label: dict[IntentName, list[Outcome]] = {}
    for outcome in outcomes:
        by_label.setdefault(outcome.example.label, []).append(outcome)
    overall = len(right) / len(outcomes)
    print(f"Language report: {len(examples)} utterances, {FOLDS}-fold cross-validation, the whole recogniser")
    print()
    print(f"{'intent':18} {'n':>4} {'accuracy':>9} {'precision':>10}")
    worst = 1.0
    for label in sorted(by_label, key=lambda n: n.value):
        mine = by_label[label]
        recall = sum(o.said is label for o in mine) / len(mine)
        predicted = [o for o in outcomes if o.said is label]
        precision = sum(o.example.label is label for o in predicted) / len(predicted) if predicted else 0.0
        worst = min(worst, recall)
        print(f"{label.value:18} {len(mine):>4} {recall:>9.1%} {precision:>10.1%}")
    print()
    print(f"overall accuracy {overall:.1%} (target {OVERALL_TARGET:.0%})")
    print(f"lowest intent {worst:.1%} (target {INTENT_TARGET:.0%})")
    updates = by_label.get(IntentName.UPDATE, [])
    asked = sum(o.asked for o in updates if o.said is IntentName.UPDATE)
    print(
        f"updates: {len(updates)}, of which {asked} would be asked about before storing, "
        f"{sum(o.said is not IntentName.UPDATE for o in updates)} not taken as updates"
    )
    groups = [o for o in outcomes if o.example.subgroup and o.said is o.example.label]
    print(f"sub-group named and found: {sum(o.group_ok for o in groups)} of {len(groups)}")
    print()
    confusion = Counter((o.example.label.value, o.said.value) for o in outcomes if o.said is not o.example.label)
    if confusion:
        print("confusion (meant -> read as: count)")
        for (meant, said), count in confusion.most_common():
            print(f"  {meant} -> {said}: {count}")
        print()
    wrong = [o for o in outcomes if o.said is not o.example.label or not o.group_ok]
    print(f"misread ({len(wrong)}):")
    for o in sorted(wrong, key=lambda o: o.example.line):
        why = f"read as {o.said.value}" if o.said is not o.example.label else "wrong sub-group"
        print(f"  line {o.example.line}: [{o.example.label.value}] {o.example.plain!r}: {why}")
    met = overall >= OVERALL_TARGET and worst >= INTENT_TARGET
    print()
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
