"""AWS mechanisms (boto3) behind the driver's ports."""
