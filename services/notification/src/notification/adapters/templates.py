"""E-mails rendered from the Jinja2 templates packaged under ``notification/templates``.

Each template name has three files: ``<name>.subject.txt`` (one line), ``<name>.txt`` (the plain-text part)
and ``<name>.html`` (the HTML part). HTML is autoescaped, so text from a message (a cancellation reason)
can never inject markup; every variable must be given (``StrictUndefined``), so a typo fails a test rather
than sending an e-mail with a hole in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notification.domain.content import EmailContent

TEMPLATES = ("order-confirmed", "order-cancelled", "order-completed")


class UnknownTemplate(LookupError):
    pass


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("notification", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, context: Mapping[str, Any]) -> EmailContent:
    """The subject, plain-text and HTML parts of ``template`` for ``context``."""
    if template not in TEMPLATES:
        raise UnknownTemplate(f"no e-mail template {template!r}; known: {', '.join(TEMPLATES)}")
    env = environment()
    subject = " ".join(env.get_template(f"{template}.subject.txt").render(context).split())
    return EmailContent(
        subject=subject,
        text=env.get_template(f"{template}.txt").render(context),
        html=env.get_template(f"{template}.html").render(context),
    )
