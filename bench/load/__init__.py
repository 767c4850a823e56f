"""Load generator, bare-DynamoDB replay and capacity/cost report (``make bench``)."""
