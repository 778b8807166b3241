"""Web framework integrations: the Intercom Messenger on pages and the mobile identity endpoint.

``ivsecrets.integrations.messenger`` is the framework-neutral core; ``.django``, ``.flask`` and
``.fastapi`` are thin adapters, each importing its framework only when it is itself imported
(install the extra of the same name, e.g. ``pip install 'ivsecrets[flask]'``). Like the CLI, the
integrations are entry points: they use the core (``api``, ``hashing``, ``config``, ``errors``) and
never the CLI, a store plugin or a workflow.
"""
