"""Arrays of numbers passed to PostgreSQL as one parameter.

psycopg2 adapts a list item by item into ``ARRAY[...]``: 0.8 ms of the sender's CPU for 1,000 ids,
1 ms for 1,000 prices, and a batch's record writes five arrays of 1,000 numbers (docs/benchmark.md). An
array's text form (``'{1,2,NULL}'``) with a cast in the query (``%s::int[]``) takes a tenth of
that. Numbers only: their text has no character that an array literal quotes, and any other value
is refused (TypeError), so that no value can change the literal's shape.
"""

import math
from decimal import Decimal


def int_array(values):
    """The text form of an ``int[]`` of ``values``: ints, None for NULL."""
    return _array(values, integers=True)


def number_array(values):
    """The text form of a ``numeric[]`` of ``values``: ints, finite floats and Decimals, None for NULL."""
    return _array(values, integers=False)


def _array(values, integers):
    texts = []
    for value in values:
        kind = type(value)  # not isinstance: True is an int, and its text would not be
        if kind is int:
            texts.append(str(value))
        elif value is None:
            texts.append("NULL")
        elif integers:
            raise TypeError(f"not an integer: {value!r}")
        elif kind is float and math.isfinite(value):
            texts.append(repr(value))
        elif kind is Decimal and value.is_finite():
            texts.append(str(value))
        else:
            raise TypeError(f"not a finite number: {value!r}")
    return "{" + ",".join(texts) + "}"
