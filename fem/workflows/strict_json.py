"""Strict JSON for the files the workflows write: NaN and +-Infinity (which Python's json module
writes as the non-standard tokens NaN/Infinity) become null, so that any JSON reader accepts them."""
from __future__ import annotations

import json
import math

import numpy as np


def finite_or_none(obj):
    """A copy of obj (dicts, lists, tuples, scalars, NumPy values) with every non-finite float replaced by None."""
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_or_none(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def dumps(obj, indent: int | None = 2) -> str:
    """json.dumps of finite_or_none(obj); raises ValueError if anything non-finite is left."""
    return json.dumps(finite_or_none(obj), indent=indent, allow_nan=False)
