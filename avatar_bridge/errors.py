"""Errors of the avatar bridge, worded for whoever runs the clinic's avatar platform."""


class AvatarError(Exception):
    """Root: the avatar or voice platform failed."""


class AvatarUnavailableError(AvatarError):
    """The vendor did not answer, answered with an error, or timed out."""


class AvatarSessionError(AvatarError):
    """The session is unknown, closed, or dropped by the vendor."""
