"""Datum conversion between WGS-84 (GPS), GCJ-02 (AMap, Tencent) and BD-09 (Baidu), via prcoords.

Positions are (x, y) = (longitude, latitude) in degrees, as everywhere in gridops;
prcoords works in (lat, lon) order, so the swap happens here and nowhere else.
Outside mainland China the GCJ-02 offset is zero, by prcoords' own bounding box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Iterable

import numpy as np
import prcoords

from gridops.errors import ValidationFailed
from gridops.territory.models import DATUMS

#: Datums a position may arrive in; layers are only ever WGS-84 or GCJ-02 (``DATUMS``).
INPUT_DATUMS = (*DATUMS, "bd09")

Converter = Callable[[float, float], tuple[float, float]]

__all__ = ["DATUMS", "INPUT_DATUMS", "check_datum", "convert", "convert_many", "converter"]


def _in_china(x: float, y: float) -> bool:
    return prcoords.sanity_in_china_p(prcoords.Coords(y, x))


def _identity(x: float, y: float) -> tuple[float, float]:
    return x, y


def _wgs_to_gcj(x: float, y: float) -> tuple[float, float]:
    if not _in_china(x, y):
        return x, y
    lat, lon = prcoords.wgs_gcj((y, x), False)
    return lon, lat


# The inverses use prcoords' iterative ("bored") variants: exact to under a millimetre,
# where the one-step inverses are off by up to metres (GCJ) or centimetres (BD).


def _gcj_to_wgs(x: float, y: float) -> tuple[float, float]:
    if not _in_china(x, y):
        return x, y
    lat, lon = prcoords.gcj_wgs_bored((y, x), False)
    return lon, lat


def _bd_to_gcj(x: float, y: float) -> tuple[float, float]:
    lat, lon = prcoords.bd_gcj_bored((y, x))
    return lon, lat


def _bd_to_wgs(x: float, y: float) -> tuple[float, float]:
    return _gcj_to_wgs(*_bd_to_gcj(x, y))


_CONVERTERS: dict[tuple[str, str], Converter] = {
    ("wgs84", "wgs84"): _identity,
    ("gcj02", "gcj02"): _identity,
    ("wgs84", "gcj02"): _wgs_to_gcj,
    ("gcj02", "wgs84"): _gcj_to_wgs,
    ("bd09", "gcj02"): _bd_to_gcj,
    ("bd09", "wgs84"): _bd_to_wgs,
}


def check_datum(datum: object, allowed: Iterable[str] = INPUT_DATUMS, field: str = "datum") -> str:
    """The datum's canonical name, or ValidationFailed naming ``field`` if it is not one of ``allowed``."""
    allowed = tuple(allowed)
    name = datum.strip().lower().replace("-", "") if isinstance(datum, str) else None
    if name not in allowed:
        raise ValidationFailed.field(field, f"unknown datum {datum!r}; use one of {', '.join(allowed)}")
    return name


def converter(src: str, dst: str) -> Converter:
    """The function that takes an (x, y) in ``src`` to ``dst``, checked once for repeated use."""
    return _CONVERTERS[(check_datum(src), check_datum(dst, DATUMS))]


def convert(x: float, y: float, src: str, dst: str) -> tuple[float, float]:
    """One position from datum ``src`` to layer datum ``dst``."""
    return converter(src, dst)(x, y)


def convert_many(xs, ys, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of positions from ``src`` to ``dst``; same-datum input comes back as float arrays untouched."""
    func = converter(src, dst)
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if xs.shape != ys.shape:
        raise ValidationFailed("x and y must have the same length", {"x": "length differs from y"})
    if func is _identity:
        return xs, ys
    # prcoords is scalar-only; one pass over plain floats is the cheapest way through it.
    pairs = np.fromiter(
        (v for pair in map(func, xs.ravel().tolist(), ys.ravel().tolist()) for v in pair),
        dtype=float,
        count=2 * xs.size,
    ).reshape(-1, 2)
    return pairs[:, 0].reshape(xs.shape), pairs[:, 1].reshape(ys.shape)
