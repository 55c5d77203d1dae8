"""The clinical record core: resource store, validation, search, access policy."""
