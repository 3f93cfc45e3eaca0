"""Services of the inventory app: the only code that writes what people change."""
