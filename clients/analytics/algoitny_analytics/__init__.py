"""An analytics sink built only on the published client (``algoitny_events``): it follows the
domain topics into Parquet files partitioned by event type and UTC day, writes each event once
under redelivery and restarts, and answers a DuckDB report (``python -m algoitny_analytics``)."""
