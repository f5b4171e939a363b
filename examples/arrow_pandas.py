"""Notebook-style analysis: VQL results as Arrow tables and pandas DataFrames.

    python examples/arrow_pandas.py

Each cell is a comment and a few lines, as in a notebook. Needs pandas (pip install
'vql[pandas]') and the shared data ($VQL_SHARED, default ../shared).
"""

from __future__ import annotations

import os
from pathlib import Path

import vql

SHARED = Path(os.environ.get("VQL_SHARED") or Path(__file__).resolve().parents[1] / ".." /
              "shared")
con = vql.connect(":memory:")
cur = con.cursor()
cur.execute("LOAD VIDEO ? INTO bottles", [str(SHARED / "data" / "videos" /
                                             "bottle-detection.mp4")])

# %% Detections as Arrow: one list of structs per frame, no Python objects in between.
table = cur.execute("SELECT frame_id, ts, detect(frame) AS objects FROM bottles "
                    "SAMPLE 2 FPS").fetch_arrow_table()
print(table.schema)

# %% The same rows, one detection per row, in pandas.
frame = table.to_pandas().explode("objects").dropna(subset=["objects"])
frame = frame.join(frame.pop("objects").apply(lambda d: __import__("pandas").Series(d)))
print(frame.groupby("label").agg(count=("score", "size"), mean_score=("score", "mean"))
      .sort_values("count", ascending=False).head())

# %% Or let SQL do it: UNNEST the detections and aggregate in DuckDB.
by_label = cur.execute(
    "SELECT d.label, count(*) AS n, round(avg(d.score), 3) AS mean_score FROM ("
    "  SELECT unnest(detect(frame)) AS d FROM bottles"
    ") GROUP BY 1 ORDER BY n DESC LIMIT 5 SAMPLE 2 FPS").fetchdf()
print(by_label)

# %% Streaming: a long result in Arrow batches, never whole in memory.
reader = cur.execute("SELECT frame_id, brightness FROM bottles").fetch_record_batches(256)
batches = sum(1 for _ in reader)
print(f"{batches} batches of brightness values")
con.close()
