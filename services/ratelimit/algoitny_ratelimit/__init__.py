"""Ratelimit service: subscription plans and daily quotas."""
