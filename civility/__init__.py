"""civility's core: domain rules, storage and settings shared by the API (``service``) and workers."""
