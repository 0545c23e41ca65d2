"""Bot state as plain JSON: what dialogs and conversation state hold, written so it can be read back."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None

TAG = "__type__"
"""Marks a JSON object that stands for a Python value JSON cannot hold (an object, a date, a tuple...)."""

T = TypeVar("T")

DEFAULT_MODULES = ("botbuilder", "botframework", "bot", "dialogs")
"""Packages whose classes may be stored: the SDK's (dialog stacks, prompt options, activities) and ours."""


class UnstorableStateError(TypeError):
    """State holds a value this storage will not write, or a stored record names a class it will not load."""


class StateCodec:
    """Turns bot state into plain JSON and back, so a dialog continues where it stopped after the row is read.

    Dicts, lists, strings, numbers, booleans and None are stored as themselves; anything else becomes a JSON object
    tagged with `__type__`: objects as their class name and attributes (how the SDK's `DialogState`,
    `DialogInstance`, `PromptOptions` and msrest models such as `Activity` hold their data), dates and datetimes as
    ISO 8601 text (with the zone name for a `ZoneInfo`), enums by value, tuples and dicts with non-text keys as lists.

    Why not jsonpickle, which botbuilder-azure's Blob and Cosmos storages use: it writes dates as base64 pickle bytes,
    it silently drops dict keys that start with "py/", and loading a record can call any function the record names
    (`py/reduce`), so a row would be a pickle in JSON clothing. Here a record can only name classes from
    `allowed_modules`, which are created without calling anything but `__new__`; other values fail when written,
    not on some later turn when they are read.
    """

    def __init__(self, allowed_modules: Iterable[str] = DEFAULT_MODULES) -> None:
        self._allowed = tuple(allowed_modules)

    def encode(self, value: object) -> Json:
        if isinstance(value, Enum):  # before str and int: many SDK enums are both
            return {TAG: "enum", "class": self._name_of(type(value)), "value": self.encode(value.value)}
        if isinstance(value, float) and not math.isfinite(value):
            raise UnstorableStateError(f"bot state cannot hold {value}: JSON has no such number")  # PostgreSQL agrees
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, list):
            return [self.encode(item) for item in value]
        if isinstance(value, tuple):
            return {TAG: "tuple", "value": [self.encode(item) for item in value]}
        if isinstance(value, dict):
            return self._encode_dict(value)
        if isinstance(value, datetime):  # before date: a datetime is a date
            zone = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
            return {TAG: "datetime", "value": value.isoformat(), "zone": zone}
        if isinstance(value, date):
            return {TAG: "date", "value": value.isoformat()}
        return self._encode_object(value)

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        if not isinstance(value, dict):
            return value
        if TAG not in value:
            return {key: self.decode(item) for key, item in value.items()}
        return self._decode_tagged(value)

    def _encode_dict(self, value: dict[Any, Any]) -> Json:
        # Text keys stay a JSON object; other keys (and a key that looks like our tag) would not survive JSON.
        if TAG not in value and all(type(key) is str for key in value):
            return {key: self.encode(item) for key, item in value.items()}
        return {TAG: "dict", "value": [[self.encode(key), self.encode(item)] for key, item in value.items()]}

    def _encode_object(self, value: object) -> Json:
        name = self._name_of(type(value))
        try:
            attributes = vars(value)
        except TypeError:
            raise UnstorableStateError(f"bot state cannot hold {name}: it keeps no attributes to store") from None
        return {TAG: "object", "class": name, "value": {key: self.encode(item) for key, item in attributes.items()}}

    def _decode_tagged(self, value: dict[str, Any]) -> Any:
        kind, payload = value[TAG], value["value"]
        if kind == "enum":
            return self._resolve(value["class"], Enum)(self.decode(payload))
        if kind == "tuple":
            return tuple(self.decode(item) for item in payload)
        if kind == "dict":
            return {self.decode(key): self.decode(item) for key, item in payload}
        if kind == "datetime":
            moment = datetime.fromisoformat(payload)
            return moment.astimezone(ZoneInfo(value["zone"])) if value.get("zone") else moment
        if kind == "date":
            return date.fromisoformat(payload)
        if kind == "object":
            return self._decode_object(value["class"], payload)
        raise UnstorableStateError(f"a bot state record holds an unknown {TAG} {kind!r}")

    def _decode_object(self, name: str, attributes: dict[str, Any]) -> object:
        cls = self._resolve(name, object)
        instance = cls.__new__(cls)
        vars(instance).update({key: self.decode(item) for key, item in attributes.items()})
        return instance

    def _name_of(self, cls: type) -> str:
        """The name a record uses for `cls`, checked now so that what is written can be read back."""
        name = f"{cls.__module__}:{cls.__qualname__}"
        if self._resolve(name, object) is not cls:
            raise UnstorableStateError(f"bot state cannot hold {name}: the class cannot be found by its name")
        return name

    def _resolve(self, name: str, base: type[T]) -> type[T]:
        module_name, _, qualname = name.partition(":")
        if not any(module_name == allowed or module_name.startswith(f"{allowed}.") for allowed in self._allowed):
            raise UnstorableStateError(f"bot state may only hold classes from {', '.join(self._allowed)}, not {name}")
        try:
            found: object = importlib.import_module(module_name)
        except ImportError:  # e.g. a dialog class moved since the state was written
            raise UnstorableStateError(f"bot state names {name}, whose module cannot be imported") from None
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if not (isinstance(found, type) and issubclass(found, base)):
            raise UnstorableStateError(f"bot state names {name}, which is not a {base.__name__} class")
        return found
