"""Search indexer: owns the OpenSearch problem index, fed by problem events; serves search."""
