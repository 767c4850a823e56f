"""AlgoItny's common library, used by every service."""
