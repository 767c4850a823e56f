"""Test-case generation: the registrar's jobs (served by the problems API) and the generation
process that works on them (``python -m algoitny_problems.generation``), driven by events:
a job's creation or retry, and each sandbox run's ``executions.SandboxRunCompleted``."""
