"""Performance figures of Ozé, printed by `make bench` (python -m bench.run).

cold_start: cold import of `app` against the floor of this stack (a bare Chalice app
with boto3 and pydantic). requests: DynamoDB requests made by each route, counted with
botocore's event hooks on in-process moto, the sandbox payment provider's own apart.
pledging: pledges per second, each made and paid. closure: deadline closure and
settlement at scale. escrow: calls to the payment provider per settlement, and refunding
a failed campaign of 10,000 paid pledges with a slow provider. matching: requests per
matched pledge. moto_speed: in-process moto made faster (and one request at a time).
"""
