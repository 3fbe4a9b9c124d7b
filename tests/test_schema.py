"""The output model has the cloud's keys and types."""

from __future__ import annotations

import json

import pytest
from conftest import DATA
from pydantic import ValidationError

from hkid_ocr.schema import HKIDResult, KeyValueInfo, Point

# The key sets of the cloud's documented sample response.
CLOUD_TOP = {"algo_version", "data", "ftype", "height", "orgHeight", "orgWidth", "prism_keyValueInfo",
             "sliceRect", "width"}
CLOUD_DATA = {"birthDate", "firstIssuedDate", "idNumber", "issuedCode", "issuedDate", "nameCn", "nameCode",
              "nameEn", "sex"}


def test_result_keys_and_types(recognizer):
    d = recognizer.recognize(DATA / "specimen_2003.jpg").to_dict()
    assert CLOUD_TOP | {"figure", "checks"} == set(d)
    assert set(d["data"]) == CLOUD_DATA and all(isinstance(v, str) for v in d["data"].values())
    assert set(d["sliceRect"]) == {f"{a}{i}" for a in "xy" for i in range(4)}
    for kv in d["prism_keyValueInfo"]:
        assert set(kv) == {"key", "keyProb", "value", "valueProb", "valuePos"}
        assert isinstance(kv["valueProb"], int) and all(set(p) == {"x", "y"} for p in kv["valuePos"])
    for fig in d["figure"]:
        assert set(fig) == {"type", "x", "y", "w", "h", "box", "points"}
        assert set(fig["box"]) == {"x", "y", "w", "h", "angle"}
    json.loads(HKIDResult.model_validate(d).to_json())  # round trip


def test_values_are_validated():
    with pytest.raises(ValidationError):
        KeyValueInfo(key="a", keyProb=101, value="", valueProb=0, valuePos=[Point(x=0, y=0)] * 4)
    with pytest.raises(ValidationError):
        KeyValueInfo(key="a", keyProb=1, value="", valueProb=0, valuePos=[Point(x=0, y=0)] * 3)
