"""Shared test support: the loopback server every fake and the app are served with."""
