"""skillstream's Kafka engine: how to connect, how big records may be, how stages batch."""
