"""Relay core: carries messages between messengers and CRMs without storing content."""
