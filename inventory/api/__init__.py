"""REST API of the inventory (``/api/inventory/``): read-only except cluster registration
and storage classification."""
