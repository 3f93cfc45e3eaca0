"""Ownership pages: the dashboards, the ownership VM list, and the VM page's actions."""
