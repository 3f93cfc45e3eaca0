"""The simulated estate: nodes, storage, guests and cluster configuration.

``Estate`` is the root object ``pvesim.cluster.Cluster`` holds as ``cluster.estate``.
"""

from pvesim.model.errors import ModelError
from pvesim.model.estate import Estate
from pvesim.model.guest import Guest, GuestFirewall
from pvesim.model.persist import estate_from_dict, estate_to_dict

__all__ = ["Estate", "Guest", "GuestFirewall", "ModelError", "estate_from_dict", "estate_to_dict"]
