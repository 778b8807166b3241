"""Store plugins: one module per secret store, registered in the ``ivsecrets.providers`` group."""
