"""Small adapters for the AWS services beside the payment port: the media store (S3), the
queue (SQS) and the mailer (SES). They take and return plain Python values and keep every
boto3/botocore detail (clients, error codes) here, so the domain modules import neither."""
