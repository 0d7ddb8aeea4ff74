"""Errors of the avatar bridge, worded for whoever runs the clinic's avatar platform."""


class AvatarError(Exception):
    """Root: the avatar or voice platform failed."""


class AvatarUnavailableError(AvatarError):
    """The vendor did not answer, answered with an error, or timed out."""


class AvatarSessionError(AvatarError):
    """The session is unknown, closed, or dropped by the vendor."""


class AvatarConfigError(AvatarError):
    """The avatar platform is selected but a required setting (key, avatar, URL) is missing."""


class AvatarCallbackError(AvatarError):
    """A callback from the avatar platform is malformed or not ours."""
