"""Every seeds/ catalog file validates against the one schema."""
import pathlib

import pytest
import yaml

from groundseg.catalog import load_catalog
from groundseg.catalog.loader import load_file
from groundseg.catalog.schema import validate
from groundseg.errors import InputError

SEEDS = pathlib.Path(__file__).resolve().parents[1] / "seeds" / "satellites"
FILES = sorted(SEEDS.glob("*.yaml"))


def test_there_are_catalog_files():
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_catalog_file_is_valid(path):
    sat, errs, _warns = load_file(path)
    assert errs == []
    assert sat.transmitters


def test_catalog_has_unique_norad_ids():
    cat = load_catalog()
    assert len({s.norad for s in cat}) == len(cat) == len(FILES)
    assert cat.by_norad(44426).name == "Swiatowid"


GOOD = {"name": "X", "norad": 1, "transmitters": [
    {"name": "t", "frequency_hz": 437000000, "modulation": "FSK", "baud": 9600, "framing": "AX.25 G3RUH"}]}


def _with(path, value):
    import copy
    doc = copy.deepcopy(GOOD)
    d = doc
    for k in path[:-1]:
        d = d[k]
    if value is KeyError:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return doc


BAD = [
    (_with(["norad"], KeyError), "missing required field 'norad'"),
    (_with(["norad"], "abc"), "norad: expected int"),
    (_with(["norad"], True), "norad: expected int"),
    (_with(["norad"], -5), "not a valid catalog number"),
    (_with(["transmitters"], []), "at least one transmitter"),
    (_with(["transmitters", 0, "modulation"], "QAM1024"), "unknown modulation 'QAM1024'"),
    (_with(["transmitters", 0, "baud"], 0), "baud: 0 is outside"),
    (_with(["transmitters", 0, "frequency_hz"], 12), "outside 1 MHz"),
    (_with(["transmitters", 0, "colour"], "red"), "unknown field 'colour'"),
    (_with(["transmitters", 0, "options"], {"no_such_option": 1}), "has no option 'no_such_option'"),
    ([1, 2, 3], "must be a mapping"),
]


@pytest.mark.parametrize("doc,msg", BAD, ids=[m for _, m in BAD])
def test_bad_documents_are_rejected_with_their_key_path(doc, msg):
    errs, _ = validate(doc, "f.yaml")
    assert any(msg in e for e in errs), errs
    assert all(e.startswith("f.yaml") for e in errs)


def test_unreadable_yaml_is_one_clear_error(tmp_path):
    d = tmp_path / "satellites"
    d.mkdir()
    (d / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="broken.yaml: cannot read"):
        load_catalog(tmp_path)


def test_unknown_framing_is_a_warning_not_an_error():
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["transmitters"][0]["framing"] = "Some Future Framing"
    errs, warns = validate(doc, "f.yaml")
    assert errs == [] and "not supported by this version" in warns[0]
