"""What is measured by running: the tuner that meets a query's targets, the accuracy profiler
that runs configurations on clips (``clips``) or replays an exact run (``observe``), and the
cost profiler behind ANALYZE (``costs``)."""
