"""Infrastructure adapters: Redis, the RQ job queue, worker presence and the embedded dev Redis server.

The domain (``civility.*``) talks to these through small interfaces; nothing here holds a rule."""
