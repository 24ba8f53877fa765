"""Folio's notification service: one e-mail per order message, sent over SMTP at most once.

Consumers only record a notification (unique per source message, in the delivery's transaction); the
sender claims it, commits, hands it to the mail server and records the outcome with NotificationSent or
NotificationFailed in the outbox. See ``notification.application.sending_handlers`` for the guarantee.
"""
