"""The Tableau value type: validation messages, derived facts, JSON form and atomic saving."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rkcore import RKInputError, Tableau, TableauError, load_tableau, save_tableau

RK3_A = [[0, 0, 0], [1 / 2, 0, 0], [-1, 2, 0]]
RK3_B = [1 / 6, 2 / 3, 1 / 6]


def _message(excinfo: pytest.ExceptionInfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg, "error messages must be one line"
    return msg


# ----------------------------------------------------------------- construction


def test_c_is_derived_and_arrays_are_readonly_float64():
    t = Tableau(A=RK3_A, b=RK3_B, name="kutta3")
    np.testing.assert_array_equal(t.c, [0.0, 0.5, 1.0])
    assert t.stages == 3 and t.b_hat is None and not t.has_embedded
    for arr in (t.A, t.b, t.c):
        assert arr.dtype == np.float64
        with pytest.raises(ValueError):
            arr[0] = 1.0


def test_construction_copies_its_input():
    A = np.array(RK3_A, dtype=float)
    t = Tableau(A=A, b=RK3_B)
    A[1, 0] = 0.25
    assert t.A[1, 0] == 0.5


def test_rows_may_be_numpy_vectors_and_integers():
    t = Tableau(A=[np.zeros(2), np.array([1, 0])], b=[np.float32(0.5), 1 / 2])
    np.testing.assert_array_equal(t.A, [[0, 0], [1, 0]])


def test_errors_are_value_errors():
    assert issubclass(TableauError, RKInputError) and issubclass(RKInputError, ValueError)


def test_ragged_A_names_the_row():
    with pytest.raises(TableauError) as err:
        Tableau(A=[[0, 0], [1]], b=[0.5, 0.5])
    msg = _message(err)
    assert "'A'" in msg and "ragged" in msg and "row 1" in msg


@pytest.mark.parametrize(
    ("field", "kwargs", "where"),
    [
        ("A", dict(A=[[0, 0], [float("nan"), 0]], b=[0.5, 0.5]), "[1, 0]"),
        ("b", dict(A=[[0, 0], [1, 0]], b=[0.5, float("inf")]), "[1]"),
        ("b_hat", dict(A=[[0, 0], [1, 0]], b=[0.5, 0.5], b_hat=[float("-inf"), 0]), "[0]"),
        ("A", dict(A=np.array([[0, 0], [np.nan, 0]]), b=[0.5, 0.5]), "[1, 0]"),
    ],
)
def test_non_finite_values_name_field_and_index(field, kwargs, where):
    with pytest.raises(TableauError) as err:
        Tableau(**kwargs)
    msg = _message(err)
    assert f"field '{field}'" in msg and "non-finite" in msg and where in msg


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(A=[[0, 0], ["1", 0]], b=[0.5, 0.5]), "field 'A[1]' entry 0 is '1', not a number"),
        (dict(A=[[0, 0], [1, 0]], b="ab"), "field 'b' must be a list of numbers, got str"),
        (dict(A="[[0]]", b=[1]), "field 'A' must be a list of rows"),
        (dict(A=[[0, 0], [True, 0]], b=[0.5, 0.5]), "field 'A[1]' entry 0 is True, not a number"),
        (dict(A=[[0, 0], [1, 0]], b=[0.5, None]), "field 'b' entry 1 is None, not a number"),
        (dict(A=np.array([["a"]]), b=[1]), "field 'A' has dtype <U1"),
        (dict(A=[[0]], b=[10**400]), "field 'b' entry 0 is too large"),
    ],
)
def test_non_numbers_are_rejected(kwargs, expected):
    with pytest.raises(TableauError) as err:
        Tableau(**kwargs)
    assert expected in _message(err)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(A=[[0, 0], [1, 0]], b=[1.0]), "field 'b' must have s=2 entries (one per stage), got 1"),
        (dict(A=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1, 2]), "field 'c' must have s=2 entries, got 3"),
        (dict(A=[[0, 0], [1, 0]], b=[0.5, 0.5], b_hat=[1]), "field 'b_hat' must have s=2 entries, got 1"),
        (dict(A=[[0, 0, 0], [1, 0, 0]], b=[0.5, 0.5]), "field 'A' must be a non-empty square"),
        (dict(A=[], b=[]), "field 'A' must be a non-empty square"),
        (dict(A=np.zeros((2, 2, 2)), b=[0.5, 0.5]), "field 'A' must be 2-dimensional"),
        (dict(A=[[0, 0], [1, 0]], b=[[0.5, 0.5]]), "field 'b' entry 0 is [0.5, 0.5], not a number"),
        (dict(A=[[0]], b=[1], name=3), "field 'name' must be a string"),
    ],
)
def test_shapes_are_checked(kwargs, expected):
    with pytest.raises(TableauError) as err:
        Tableau(**kwargs)
    assert expected in _message(err)


def test_c_not_equal_to_row_sums_names_the_row():
    with pytest.raises(TableauError) as err:
        Tableau(A=RK3_A, b=RK3_B, c=[0, 0.5, 0.9])
    msg = _message(err)
    assert msg.startswith("field 'c' row 2:") and "sums to 1.0" in msg and "omit c" in msg


def test_c_within_tolerance_is_accepted():
    t = Tableau(A=RK3_A, b=RK3_B, c=[0, 0.5 + 1e-14, 1.0])
    assert t.c[1] == 0.5 + 1e-14


# ----------------------------------------------------------------- derived facts


def test_implicit_tableau_is_analysable_but_not_explicit():
    t = Tableau(A=[[1 / 4, 1 / 4 - 3**0.5 / 6], [1 / 4 + 3**0.5 / 6, 1 / 4]], b=[0.5, 0.5], name="gauss2")
    assert not t.is_explicit and not t.is_fsal
    with pytest.raises(TableauError) as err:
        t.require_explicit()
    msg = _message(err)
    assert "'gauss2' is implicit" in msg and "A[0][0] = 0.25" in msg and "strictly lower-triangular" in msg


def test_diagonal_entry_counts_as_implicit():
    t = Tableau(A=[[0, 0], [1, 1e-300]], b=[0.5, 0.5])
    with pytest.raises(TableauError, match=r"'\?' is implicit \(A\[1\]\[1\]"):
        t.require_explicit()


def test_explicit_tableau_passes_require_explicit():
    t = Tableau(A=RK3_A, b=RK3_B)
    assert t.is_explicit
    assert t.require_explicit() is None


def test_fsal_and_embedded():
    bs3 = Tableau(
        A=[[0, 0, 0, 0], [1 / 2, 0, 0, 0], [0, 3 / 4, 0, 0], [2 / 9, 1 / 3, 4 / 9, 0]],
        b=[2 / 9, 1 / 3, 4 / 9, 0],
        b_hat=[7 / 24, 1 / 4, 1 / 3, 1 / 8],
    )
    assert bs3.is_fsal and bs3.has_embedded
    assert not Tableau(A=RK3_A, b=RK3_B).is_fsal
    assert not Tableau(A=[[0]], b=[1]).is_fsal


@pytest.mark.parametrize(("info", "expected"), [({"order": 3}, 3), ({"order": 3.0}, 3), ({}, None),
                                                ({"order": True}, None), ({"order": "3"}, None)])  # fmt: skip
def test_stated_order(info, expected):
    assert Tableau(A=RK3_A, b=RK3_B, info=info).stated_order == expected


def test_replace_rederives_c_and_validates():
    t = Tableau(A=RK3_A, b=RK3_B, name="kutta3", info={"order": 3})
    heun3 = t.replace(A=[[0, 0, 0], [1 / 3, 0, 0], [0, 2 / 3, 0]], b=[1 / 4, 0, 3 / 4], name="heun3")
    np.testing.assert_allclose(heun3.c, [0, 1 / 3, 2 / 3], rtol=0, atol=1e-16)
    assert heun3.info == {"order": 3} and t.name == "kutta3"
    with pytest.raises(TableauError, match="field 'b' must have s=3"):
        t.replace(b=[1.0])


def test_equals_compares_within_tolerance():
    t = Tableau(A=RK3_A, b=RK3_B)
    u = t.replace(b=[1 / 6 + 1e-9, 2 / 3 - 1e-9, 1 / 6])
    assert t.equals(t) and not t.equals(u) and t.equals(u, tol=1e-8)
    assert not t.equals(t.replace(b_hat=[1, 0, 0]), tol=1.0)
    assert not t.equals(Tableau(A=[[0]], b=[1]), tol=1.0)


def test_info_drops_core_keys():
    t = Tableau(A=[[0]], b=[1], info={"A": 1, "name": "x", "order": 1})
    assert t.info == {"order": 1}


# ----------------------------------------------------------------- JSON form


def test_to_dict_is_the_documented_json_form():
    t = Tableau(A=[[0, 0], [1, 0]], b=[0.5, 0.5], b_hat=[1, 0], name="heun", info={"order": 2})
    assert t.to_dict() == {
        "name": "heun",
        "A": [[0.0, 0.0], [1.0, 0.0]],
        "b": [0.5, 0.5],
        "c": [0.0, 1.0],
        "b_hat": [1.0, 0.0],
        "order": 2,
    }
    assert list(t.to_dict())[:5] == ["name", "A", "b", "c", "b_hat"]


def test_json_round_trip_keeps_extra_keys_and_exact_values(tmp_path):
    extra = {"order": 3, "source": "test", "notes": {"tags": ["a", "b"], "score": 0.1}}
    t = Tableau(A=[[0, 0, 0], [1 / 3, 0, 0], [0, 2 / 3, 0]], b=[1 / 4, 0, 3 / 4], b_hat=[0.3, 0.3, 0.4],
                name="heun3", info=extra)  # fmt: skip
    path = save_tableau(t, tmp_path / "heun3.json")
    assert path == tmp_path / "heun3.json"
    raw = json.loads(path.read_text())
    assert raw["notes"] == extra["notes"] and raw["source"] == "test"
    back = load_tableau(path)
    assert back.equals(t, tol=0.0)
    assert back.name == "heun3" and back.info == extra
    assert Tableau.from_dict(t.to_dict()).equals(t)


def test_from_dict_derives_c_and_names_the_source():
    t = Tableau.from_dict({"A": [[0, 0], [1, 0]], "b": [0.5, 0.5], "name": 7})
    assert t.name == "7" and t.c.tolist() == [0.0, 1.0]
    with pytest.raises(TableauError) as err:
        Tableau.from_dict({"A": [[0, 0], [1]], "b": [0.5, 0.5]}, source="mine.json")
    assert _message(err).startswith("mine.json: field 'A' is ragged")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([[0]], "expected a JSON object with keys A, b, c; got list"),
        ({"b": [1]}, "missing field 'A'"),
        ({"A": [[0]]}, "missing field 'b'"),
    ],
)
def test_from_dict_rejects_wrong_structure(data, expected):
    with pytest.raises(TableauError) as err:
        Tableau.from_dict(data, source="x.json")
    assert _message(err).startswith(f"x.json: {expected}")


def test_load_missing_file(tmp_path):
    with pytest.raises(RKInputError) as err:
        load_tableau(tmp_path / "nope.json")
    msg = _message(err)
    assert "nope.json: no such file" in msg


def test_load_directory_and_binary_files(tmp_path):
    with pytest.raises(RKInputError, match="cannot read file"):
        load_tableau(tmp_path)
    bad = tmp_path / "bin.json"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RKInputError, match="cannot read file"):
        load_tableau(bad)


def test_load_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"A": [[0]],\n "b": [1,]}')
    with pytest.raises(RKInputError) as err:
        load_tableau(path)
    msg = _message(err)
    assert "bad.json: invalid JSON at line 2 column" in msg
    assert not isinstance(err.value, TableauError)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_load_rejects_non_finite_literals(tmp_path, literal):
    path = tmp_path / "nan.json"
    path.write_text(f'{{"A": [[0, 0], [{literal}, 0]], "b": [0.5, 0.5]}}')
    with pytest.raises(TableauError) as err:
        load_tableau(path)
    msg = _message(err)
    assert literal in msg and "finite" in msg


def test_load_overflowing_number_is_non_finite(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"A": [[0, 0], [1e400, 0]], "b": [0.5, 0.5]}')
    with pytest.raises(TableauError, match="field 'A' has a non-finite value inf at index \\[1, 0\\]"):
        load_tableau(path)


def test_load_invalid_tableau_names_the_file(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(json.dumps({"A": [[0, 0], [1, 0]], "b": [1]}))
    with pytest.raises(TableauError) as err:
        load_tableau(path)
    assert _message(err).startswith(f"{path}: field 'b' must have s=2")


# ----------------------------------------------------------------- saving


def test_save_refuses_to_overwrite_when_asked(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("precious")
    with pytest.raises(RKInputError, match="file exists"):
        save_tableau(Tableau(A=[[0]], b=[1]), path, overwrite=False)
    assert path.read_text() == "precious"
    save_tableau(Tableau(A=[[0]], b=[1]), path)
    assert load_tableau(path).b.tolist() == [1.0]


def test_save_creates_parent_folders_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "a" / "b" / "t.json"
    save_tableau(Tableau(A=[[0]], b=[1]), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["t.json"]


def test_save_rejects_non_finite_info_without_touching_the_file(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("precious")
    with pytest.raises(TableauError, match="info field 'score' is nan"):
        save_tableau(Tableau(A=[[0]], b=[1], info={"score": float("nan")}), path)
    assert path.read_text() == "precious"


def test_save_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "t.json"
    path.write_text("precious")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_tableau(Tableau(A=[[0]], b=[1]), path)
    assert path.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
