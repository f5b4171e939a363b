"""Accuracy of lossy plans against the reference plan: metrics and the result's shape."""

from vql.accuracy.metrics import METRIC_NAMES, SHAPES, accuracy
from vql.accuracy.shape import result_shape

__all__ = ["METRIC_NAMES", "SHAPES", "accuracy", "result_shape"]
