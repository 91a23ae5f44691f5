"""Performance figures of Ozé, printed by `make bench` (python -m bench.run).

cold_start: cold import of `app` against the floor of this stack (a bare Chalice app
with boto3 and pydantic). requests: DynamoDB requests made by each route, counted with
botocore's event hooks on in-process moto.
"""
