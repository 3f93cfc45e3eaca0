"""Server-rendered inventory pages, split by sub-domain."""
