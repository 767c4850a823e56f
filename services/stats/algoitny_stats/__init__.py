"""Stats service: precomputed statistics from events."""
