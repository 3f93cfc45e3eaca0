"""API handlers, one module per domain; every module here is imported automatically.

How to add an endpoint (three pieces, all required):

1. **Declare it** in a spec module (``pvesim/spec/<domain>.py``, list ``METHODS``) with the
   exact path template and every parameter of the official schema, in the compact DSL of
   :mod:`pvesim.spec.types`::

       Method("POST", "/nodes/{node}/qemu/{vmid}/status/start", {
           "node": "str fmt:pve-node",
           "vmid": "int 100..999999999 fmt:pve-vmid",
           "skiplock": "?bool",
           "timeout": "?int 0..86400",
       })

   ``tests/pvesim/test_conformance.py`` fails until the declaration matches the schema.

2. **Handle it** in ``pvesim/api/<domain>.py``::

       from pvesim.api.router import route
       from pvesim.api.context import Context
       from pvesim.api.errors import ApiError

       @route("POST", "/nodes/{node}/qemu/{vmid}/status/start")
       def qemu_start(ctx: Context) -> str:
           vmid = ctx.params["vmid"]                      # typed, path variables included
           ctx.check(f"/vms/{vmid}", ["VM.PowerMgmt"])     # 403 as PVE words it
           guest = ...                                    # raise ApiError(500, "...") on die()
           return ctx.start_task(node=ctx.params["node"], type="qmstart", id=vmid,
                                 steps=[(1.0, "starting"), (2.0, "", start)],
                                 on_done=..., on_fail=...)

   The return value becomes ``{"data": ...}``; set ``ctx.total`` for lists with ``total``.
   Output booleans are ints 0/1. ``pvesim.model.ModelError`` raised anywhere below a handler
   is turned into the same error contract as :class:`ApiError`.

3. **Check permissions** inside the handler: ``ctx.check(path, privs, any_=False)`` raises
   403; ``ctx.can(path, privs)`` is the silent form for filtering lists. Methods declared
   with ``world=True`` run without authentication (``ctx.identity`` is None).

The handler runs under ``ctx.cluster.lock`` with every due task step applied, at simulated
time ``ctx.now``.
"""
