"""One module per request kind; importing this package declares the steps of all of them.

Discovered rather than listed, so adding a kind touches only its own module.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
