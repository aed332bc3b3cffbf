import numpy as np
import prcoords
import pytest

from gridops.errors import ValidationFailed
from gridops.territory.datum import DATUMS, INPUT_DATUMS, check_datum, convert, convert_many

#: A point in Nanyang's Wancheng district, (longitude, latitude).
NANYANG = (112.55, 33.0)


def metres_between(a, b) -> float:
    return prcoords.Coords(a[1], a[0]).distance(prcoords.Coords(b[1], b[0]))


def test_datums():
    assert DATUMS == ("wgs84", "gcj02")
    assert INPUT_DATUMS == ("wgs84", "gcj02", "bd09")


@pytest.mark.parametrize(
    ("given", "expected"), [("wgs84", "wgs84"), ("WGS-84", "wgs84"), (" gcj02 ", "gcj02"), ("BD-09", "bd09")]
)
def test_check_datum_normalises_names(given, expected):
    assert check_datum(given) == expected


@pytest.mark.parametrize("given", ["utm", "", None, 84])
def test_unknown_datum_names_the_field(given):
    with pytest.raises(ValidationFailed) as info:
        check_datum(given)
    assert set(info.value.fields) == {"datum"}
    assert "wgs84" in info.value.fields["datum"]


def test_bd09_is_an_input_datum_only():
    with pytest.raises(ValidationFailed) as info:
        convert(*NANYANG, "wgs84", "bd09")
    assert "datum" in info.value.fields


def test_same_datum_is_unchanged():
    assert convert(*NANYANG, "gcj02", "gcj02") == NANYANG
    assert convert(*NANYANG, "wgs84", "wgs84") == NANYANG


def test_wgs_to_gcj_matches_prcoords_with_x_as_longitude():
    lat, lon = prcoords.wgs_gcj((NANYANG[1], NANYANG[0]))
    assert convert(*NANYANG, "wgs84", "gcj02") == (lon, lat)


def test_gcj_offset_in_china_is_hundreds_of_metres():
    shifted = convert(*NANYANG, "wgs84", "gcj02")
    assert 100 < metres_between(NANYANG, shifted) < 1000


def test_gcj_to_wgs_inverts_to_a_millimetre():
    back = convert(*convert(*NANYANG, "wgs84", "gcj02"), "gcj02", "wgs84")
    assert metres_between(NANYANG, back) < 0.001


def test_bd09_to_gcj_and_wgs():
    gcj = convert(*NANYANG, "wgs84", "gcj02")
    lat, lon = prcoords.gcj_bd((gcj[1], gcj[0]))
    assert metres_between(convert(lon, lat, "bd09", "gcj02"), gcj) < 0.001
    assert metres_between(convert(lon, lat, "bd09", "wgs84"), NANYANG) < 0.001


def test_outside_china_there_is_no_offset_and_no_warning():
    paris = (2.35, 48.85)
    assert convert(*paris, "wgs84", "gcj02") == paris
    assert convert(*paris, "gcj02", "wgs84") == paris


def test_convert_many_matches_convert():
    xs = np.array([112.50, 112.55, 2.35])
    ys = np.array([32.95, 33.00, 48.85])
    gx, gy = convert_many(xs, ys, "wgs84", "gcj02")
    assert [(float(a), float(b)) for a, b in zip(gx, gy)] == [
        convert(x, y, "wgs84", "gcj02") for x, y in zip(xs.tolist(), ys.tolist())
    ]


def test_convert_many_same_datum_and_shapes():
    gx, gy = convert_many([112.5, 112.6], [33.0, 33.1], "gcj02", "gcj02")
    assert gx.tolist() == [112.5, 112.6] and gy.tolist() == [33.0, 33.1]
    empty_x, empty_y = convert_many([], [], "wgs84", "gcj02")
    assert empty_x.shape == empty_y.shape == (0,)
    with pytest.raises(ValidationFailed):
        convert_many([112.5, 112.6], [33.0], "wgs84", "gcj02")
