"""Hints service: progressive hints from Gemini."""
