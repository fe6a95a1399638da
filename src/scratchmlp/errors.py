"""The one exception type for mistakes a user can make (bad data, bad flags, bad files).

The CLI turns it into one line and a non-zero exit; anything else is a bug and may show a traceback.
"""


class ScratchMLPError(Exception):
    """A problem the user can fix; the message names the thing and the fix."""
