"""Migration from the legacy Django database (issue 15): see services/migration/README.md."""
