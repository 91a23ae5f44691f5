"""The mailer: one mail through SES, in plain text and HTML."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .. import aws


class MailNotSent(Exception):
    """SES refused the mail (unverified sender, throttling, suppressed address…)."""


def send(sender: str, to: str, subject: str, text: str, html: str) -> None:
    """Send one UTF-8 mail from `sender` to `to`; MailNotSent when SES refuses it."""
    try:
        aws.client("ses").send_email(
            Source=sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
            },
        )
    except ClientError as error:
        raise MailNotSent(str(error)) from error
