"""The topic replayer lives in the shared library (the stats rebuild replays too)."""

from algoitny_shared.replay import Offsets, TopicReplayer

__all__ = ["Offsets", "TopicReplayer"]
