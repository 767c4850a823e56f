"""Accounts service: users, sign-in and tokens."""
