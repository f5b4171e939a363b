"""Accuracy of lossy plans against the reference plan: metrics, the result's shape and the
columns it is scored on."""

from vql.accuracy.metrics import METRIC_NAMES, SHAPES, accuracy, column_scores, lowest
from vql.accuracy.shape import result_shape, scored_columns, scored_positions, scoring_sql

__all__ = ["METRIC_NAMES", "SHAPES", "accuracy", "column_scores", "lowest", "result_shape",
           "scored_columns", "scored_positions", "scoring_sql"]
