"""Network architectures, registered by name (see :func:`create_model`)."""
