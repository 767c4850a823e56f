"""AlgoItny's developer tools: the local dev stack and what the tests and benchmarks share.

``algoitny_devtools.registry`` holds every local process's spec (Kafka, OpenSearch, moto, PostgreSQL,
Kafka Connect and the services); ``algoitny_devtools.launcher`` starts, checks and stops them on
mirakuru; ``python -m algoitny_devtools`` is the command line ``deploy/local/infra.sh``,
``deploy/local/legacy.sh`` and ``make run`` use.
"""
