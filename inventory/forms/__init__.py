"""Forms of the inventory pages."""
