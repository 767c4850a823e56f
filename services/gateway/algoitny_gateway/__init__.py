"""API gateway: authenticates callers and routes /api/v1 to the owning service."""
