import pytest

from groundseg.errors import InputError
from groundseg.registry import DuplicateRegistration, Registry


def test_rejects_duplicates_case_and_space_insensitive():
    r = Registry("widget")
    r.add("AX.25 G3RUH", 1)
    with pytest.raises(DuplicateRegistration):
        r.add("ax.25  g3ruh", 2)
    assert r.get("AX.25   g3ruh") == 1
    assert r.canonical("ax.25 g3ruh") == "AX.25 G3RUH"


def test_unknown_name_lists_choices():
    r = Registry("widget")
    r.add("a", 1)
    r.add("b", 2)
    with pytest.raises(InputError, match=r"unknown widget 'c' \(known: a, b\)"):
        r.get("c")
    assert "c" not in r and "a" in r and 3 not in r
