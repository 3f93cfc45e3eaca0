"""The estate as mirrored from Proxmox VE: clusters, nodes, storage, guests and their ledgers."""
