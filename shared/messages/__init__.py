"""Messages: the Pub/Sub envelope of a CloudEvent (``envelope``), JSON Schema checks with the
schemas root found once (``schemas``), and the topics, subscriptions and dead letters
(``topology``, read from ``schemas/pubsub/topology.json``)."""
