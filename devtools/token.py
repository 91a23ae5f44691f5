"""Print a bearer token for the local stage: `make token SUB=… [NAME=…] [EMAIL=…] [GROUPS=moderators]`."""

import argparse

from chalicelib.identity import sign_dev_token
from devtools.stage import stage_variables


def local_secret() -> str:
    return stage_variables("local")["DEV_JWT_SECRET"]


def local_token(sub: str, name: str = "", email: str = "", groups: str = "") -> str:
    claims: dict[str, str | list[str]] = {"sub": sub, "name": name, "email": email}
    group_list = [g for g in groups.split(",") if g]
    if group_list:
        claims["cognito:groups"] = group_list
    return sign_dev_token(local_secret(), {k: v for k, v in claims.items() if v})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sub", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--email", default="")
    parser.add_argument("--groups", default="", help="comma-separated, e.g. moderators")
    args = parser.parse_args()
    if not args.sub:
        parser.error("SUB is required: make token SUB=alice")
    print(local_token(args.sub, args.name, args.email, args.groups))


if __name__ == "__main__":
    main()
