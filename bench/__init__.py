"""The relay benchmark: relay against a bare aiohttp forwarder on one machine (`python -m bench`)."""
