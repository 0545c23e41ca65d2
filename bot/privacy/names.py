"""First names and surnames, from the names-dataset package (its data ships inside the package).

The whole dataset is 1.7 million names with per-country statistics: unpickling it takes about 12 s
and 1.9 GB of memory. So it is read once, in a child process whose memory goes back when it ends,
and only the names ranked in the countries most families in England come from are kept (tens of
thousands of strings, a few MB); they are written to a cache file, and every later process reads
that file in milliseconds. The running bot never holds the dataset itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

# England's own and its largest migrant communities' countries of birth.
WHOLE = ("GB", "IE")  # every ranked name
TOP = 2000  # the most common names, per sex, of each of these
COUNTRIES = ("IN", "PK", "BD", "NG", "PL", "RO", "IT", "PT", "LT", "SO", "TR", "JM", "GH", "ZA", "AF", "IQ")


@dataclass(frozen=True)
class Either:
    """A name in either list, without a third set as large as both (4 MB the server would hold)."""

    one: frozenset[str]
    other: frozenset[str]

    def __contains__(self, name: object) -> bool:
        return name in self.one or name in self.other


@dataclass(frozen=True)
class Names:
    first: frozenset[str]
    last: frozenset[str]
    every: Either  # first or last: after a title ("Mrs Patel") either will do


def cache_file() -> Path:
    root = os.environ.get("PLAN_TRACKER_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "plan-tracker" / f"names-{version('names-dataset')}.json"


@cache
def names() -> Names:
    """The lists, built on first use in this process (and on first use on this machine, from the dataset)."""
    path = cache_file()
    if not path.exists():
        subprocess.run([sys.executable, "-m", "bot.privacy.names", str(path)], check=True)
    data = json.loads(path.read_text(encoding="utf-8"))
    same = {name: name for name in data["first"]}  # a name in both lists is then one string, not two
    first, last = frozenset(same), frozenset(same.get(name, name) for name in data["last"])
    return Names(first, last, Either(first, last))


def extract(path: Path) -> None:
    """Read the whole dataset (slow, large) and write the names kept to `path`."""
    from names_dataset import NameDataset

    dataset = NameDataset()
    first: set[str] = set()
    last: set[str] = set()
    for name, info in dataset.first_names.items():
        if any(c in info["rank"] for c in WHOLE):
            first.add(name)
    for name, info in dataset.last_names.items():
        if any(c in info["rank"] for c in WHOLE):
            last.add(name)
    for country in COUNTRIES:
        for by_sex in dataset.get_top_names(n=TOP, country_alpha2=country).values():
            for listed in by_sex.values():
                first.update(listed)
        for listed in dataset.get_top_names(n=TOP, use_first_names=False, country_alpha2=country).values():
            last.update(listed)
    keep = {"first": sorted(n for n in first if n.isalpha()), "last": sorted(n for n in last if n.isalpha())}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(keep), encoding="utf-8")
    partial.replace(path)


if __name__ == "__main__":
    extract(Path(sys.argv[1]))
