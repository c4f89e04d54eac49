"""One registry per kind of plugin (modulations, framings, sinks, rotator protocols).

The catalog schema, the CLI choices and the docs all read from these registries,
so a plugin is listed in exactly one place: where it registers itself.
"""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import InputError

T = TypeVar("T")


class DuplicateRegistration(RuntimeError):
    """A second plugin tried to take a name already registered (a programming error)."""


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._folded: dict[str, str] = {}

    def add(self, name: str, item: T) -> T:
        key = self._fold(name)
        if key in self._folded:
            raise DuplicateRegistration(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        self._folded[key] = name
        return item

    def register(self, name: str) -> Callable[[T], T]:
        def deco(item: T) -> T:
            return self.add(name, item)
        return deco

    def get(self, name: str) -> T:
        real = self._folded.get(self._fold(name))
        if real is None:
            choices = ", ".join(sorted(self._items))
            raise InputError(f"unknown {self.kind} {name!r} (known: {choices})")
        return self._items[real]

    def canonical(self, name: str) -> str:
        self.get(name)
        return self._folded[self._fold(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._fold(name) in self._folded

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _fold(name: str) -> str:
        return " ".join(name.lower().split())
