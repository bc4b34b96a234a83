"""mailwizard: a terminal wizard that sets up Postfix on Debian and Ubuntu."""

__version__ = "0.1.0"
