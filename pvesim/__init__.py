"""pvesim: a faithful Proxmox VE API simulator served over HTTPS (stdlib + cryptography)."""
