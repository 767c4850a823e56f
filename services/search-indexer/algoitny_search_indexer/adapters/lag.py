"""The consumer-lag monitor lives in the shared library (the stats service exports lag too)."""

from algoitny_shared.lag import LagMonitor

__all__ = ["LagMonitor"]
