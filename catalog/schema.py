"""The catalog's tables, in the DuckDB schema ``vql_catalog`` of the user's database.

Users can read them with plain SQL (``SELECT * FROM vql_catalog.videos``). No primary keys or unique
constraints: DuckDB's ART indexes reject a delete and re-insert of the same key in one
transaction, which refreshing a changed video needs; ``store.Catalog`` keeps keys unique.
"""

SCHEMA_VERSION = 10  # 2: profiles; 3: accuracy_profiles, computed; 4: accuracy_profiles.config;
                     # 5: result cache; 6: batch runs; 7: accuracy_profiles.scores; 8: views;
                     # 9: live tables and their stream events;
                     # 10: video_accuracy, run_videos.accuracy

DDL = (
    "CREATE SCHEMA IF NOT EXISTS vql_catalog",
    "CREATE TABLE IF NOT EXISTS vql_catalog.meta (key VARCHAR, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS vql_catalog.video_ids START 1",
    """CREATE TABLE IF NOT EXISTS vql_catalog.videos (
        video_id INTEGER, path VARCHAR, size BIGINT, mtime DOUBLE, sha256 VARCHAR,
        fps DOUBLE, frames INTEGER, width INTEGER, height INTEGER, duration DOUBLE,
        codec VARCHAR, keyframes INTEGER[], loaded_at TIMESTAMP)""",
    "CREATE TABLE IF NOT EXISTS vql_catalog.frames (video_id INTEGER, frame_id INTEGER, ts DOUBLE)",
    # Frames a query could not decode, by the file's content (a damaged middle, found when a
    # query reaches it; LOAD decodes only the first and last frames)
    """CREATE TABLE IF NOT EXISTS vql_catalog.damaged_frames (
        sha256 VARCHAR, frame_id INTEGER, found_at TIMESTAMP)""",
    "CREATE TABLE IF NOT EXISTS vql_catalog.video_tables (name VARCHAR, created_at TIMESTAMP)",
    """CREATE TABLE IF NOT EXISTS vql_catalog.table_videos (
        table_name VARCHAR, video_id INTEGER, added_at TIMESTAMP)""",
    # Live video tables (CREATE VIDEO TABLE cam FROM 'rtsp://...'): the stream and what probing
    # it measured when the table was made
    """CREATE TABLE IF NOT EXISTS vql_catalog.live_sources (
        table_name VARCHAR, url VARCHAR, fps DOUBLE, width INTEGER, height INTEGER,
        codec VARCHAR, probed_at TIMESTAMP)""",
    # Tables of a folder a recorder writes into (CREATE VIDEO TABLE t FROM 'dir/*.mp4' WATCH):
    # the glob whose finished segments join the table as they appear
    "CREATE TABLE IF NOT EXISTS vql_catalog.watched_sources (table_name VARCHAR, source VARCHAR)",
    # What happened to live streams while queries read them: connected, disconnected,
    # reconnected (gap_s without frames), failed; frame_id is the next frame's number
    """CREATE TABLE IF NOT EXISTS vql_catalog.stream_events (
        table_name VARCHAR, url VARCHAR, event VARCHAR, happened_at TIMESTAMP, frame_id BIGINT,
        gap_s DOUBLE, detail VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS vql_catalog.functions (
        name VARCHAR, kind VARCHAR, params VARCHAR[], body VARCHAR, source VARCHAR,
        created_at TIMESTAMP)""",
    # Views that read video tables (CREATE VIEW v AS SELECT ... FROM <video table>): DuckDB
    # cannot hold them (a video table is no DuckDB relation), so their query is kept here, as
    # VQL text, and the binder reads it in place of the view (vql/bind/views.py).
    "CREATE TABLE IF NOT EXISTS vql_catalog.views (name VARCHAR, sql VARCHAR, created_at TIMESTAMP)",
    # Measured costs (ANALYZE <video table>): milliseconds per frame of one operator in one
    # configuration, on a sample of the table's frames. ``variant`` is the access pattern for
    # decode and the constant arguments for a function.
    """CREATE TABLE IF NOT EXISTS vql_catalog.profiles (
        table_name VARCHAR, operator VARCHAR, variant VARCHAR, device VARCHAR,
        batch_size INTEGER, resolution VARCHAR, ms_per_frame DOUBLE, frames INTEGER,
        sample VARCHAR, measured_at TIMESTAMP)""",
    # Measured accuracy of one knob value against the reference plan, for one pipeline (the
    # query's functions, predicates and SQL, without its targets), on clips of the table.
    # ``content`` identifies the table's videos when measured: a changed table makes it stale.
    # ``change_rate``: for a sampling rate, how often consecutive processed frames disagreed;
    # a query that sees far more change than this has met drifted content. ``pass_rate``: for a
    # difference cascade, the share of decoded frames it let through to the functions.
    """CREATE TABLE IF NOT EXISTS vql_catalog.accuracy_profiles (
        table_name VARCHAR, pipeline VARCHAR, knob VARCHAR, value DOUBLE, accuracy DOUBLE,
        metric VARCHAR, seconds DOUBLE, frames INTEGER, sample VARCHAR, content VARCHAR,
        change_rate DOUBLE, pass_rate DOUBLE, measured_at TIMESTAMP, config VARCHAR)""",
    # A version-3 catalog gains the configuration column (its old rows are single-knob ones).
    "ALTER TABLE vql_catalog.accuracy_profiles ADD COLUMN IF NOT EXISTS config VARCHAR",
    # Version 7 scores each column a frame function feeds and takes the lowest (``scores``: a
    # JSON object, column -> score); older rows averaged every column, frame_id and ts
    # included, so they overstate lossy plans and are dropped.
    "ALTER TABLE vql_catalog.accuracy_profiles ADD COLUMN IF NOT EXISTS scores VARCHAR",
    "DELETE FROM vql_catalog.accuracy_profiles WHERE scores IS NULL",
    # Accuracy profiles of one video's content (``sha256``), whatever table holds it: what a
    # batch run's workers measured, each on its one video, kept by the coordinator and sent
    # with the video's next job (vql/batch/knowledge.py). Columns as accuracy_profiles'.
    """CREATE TABLE IF NOT EXISTS vql_catalog.video_accuracy (
        sha256 VARCHAR, pipeline VARCHAR, knob VARCHAR, value DOUBLE, accuracy DOUBLE,
        metric VARCHAR, seconds DOUBLE, frames INTEGER, sample VARCHAR, change_rate DOUBLE,
        pass_rate DOUBLE, measured_at TIMESTAMP, config VARCHAR, scores VARCHAR)""",
    # The result cache (catalog/results.py): one table per function key, and its entries.
    """CREATE TABLE IF NOT EXISTS vql_catalog.result_caches (
        name VARCHAR, function VARCHAR, key VARCHAR, value_type VARCHAR, created_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS vql_catalog.result_entries (
        name VARCHAR, content VARCHAR, scale DOUBLE, frames BIGINT, bytes BIGINT,
        used_at TIMESTAMP)""",
    # Batch runs (vql run, vql/batch): one row per run (its statements, video table and output
    # tables), and one per video and run, written in the transaction that stores its results.
    """CREATE TABLE IF NOT EXISTS vql_catalog.runs (
        run VARCHAR, query_file VARCHAR, statements VARCHAR, video_table VARCHAR,
        outputs VARCHAR[], started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS vql_catalog.run_videos (
        run VARCHAR, path VARCHAR, size BIGINT, mtime DOUBLE, status VARCHAR, error VARCHAR,
        frames BIGINT, result_rows BIGINT, seconds DOUBLE, finished_at TIMESTAMP)""",
    # Version 10: the estimated accuracy of a video's results (the lowest of the run's
    # queries; 1.0 exact, NULL when a lossy plan's accuracy is not known)
    "ALTER TABLE vql_catalog.run_videos ADD COLUMN IF NOT EXISTS accuracy DOUBLE",
    "CREATE SEQUENCE IF NOT EXISTS vql_catalog.query_ids START 1",
    """CREATE TABLE IF NOT EXISTS vql_catalog.query_history (
        query_id BIGINT, sql VARCHAR, started_at TIMESTAMP, elapsed_s DOUBLE,
        status VARCHAR, error VARCHAR)""",
)

# The columns of every video table: one row per frame. ``frame`` is materialised only when a
# function or the user asks for it; the others come from the catalog without decoding.
VIDEO_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("video_id", "INTEGER", "the video's id in vql_catalog.videos"),
    ("path", "VARCHAR", "absolute path of the video file"),
    ("frame_id", "INTEGER", "0-based frame number within the video"),
    ("ts", "DOUBLE", "presentation time of the frame, seconds"),
    ("fps", "DOUBLE", "the video's average frame rate"),
    ("width", "INTEGER", "frame width, pixels"),
    ("height", "INTEGER", "frame height, pixels"),
    ("duration", "DOUBLE", "the video's length, seconds"),
    ("computed", "BOOLEAN", "false when a lossy plan (a query WITH a target) filled this row's "
                            "function values from the nearest processed frame"),
    ("frame", "BLOB", "the decoded image, JPEG-encoded when selected (RGB inside functions)"),
)
METADATA_COLUMNS = tuple(name for name, _, _ in VIDEO_COLUMNS if name != "frame")
