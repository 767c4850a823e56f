"""Executions service: sandboxed judging and execution history."""
