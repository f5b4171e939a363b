"""Batch runs over video archives: ``vql run QUERY_FILE --videos GLOB``.

Each query of the file runs once per video, as if the video table held that video alone (an
aggregate is per video), in worker processes; each video's results are committed to the
database in one transaction together with the record that it is done, so a run that stops
(Ctrl-C, a kill, a crash) and is started again skips the finished videos and ends with the same
results, without duplicates. A file that cannot be read or processed is recorded with its error
and the run goes on. ``runner.ArchiveRun`` does the work; ``ledger`` keeps the records;
``jobs`` is what a worker runs for one video.
"""

from vql.batch.runner import ArchiveRun, RunProgress, RunReport, RunStopped

__all__ = ["ArchiveRun", "RunProgress", "RunReport", "RunStopped"]
