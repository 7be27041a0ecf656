"""The Docker target: containers, volumes and networks on this host, and the providers of
what runs inside them."""
