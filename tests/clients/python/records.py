"""What a user does with Microsoft's PowerPlatform-Dataverse-Client against
herald, unchanged: records.create / get / update / a paged query / delete on
`account`. herald's API key is the bearer token, handed out by a credential
object as an Azure Identity credential would; the self-signed certificate is
trusted through REQUESTS_CA_BUNDLE (set by the test).

Reads HERALD_URL (https://127.0.0.1:PORT) and HERALD_KEY; prints one JSON
object per step on stdout, for tests/it/clients to check.
"""

import json
import os
import sys
import time

from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient


class HeraldKeyCredential:
    """A TokenCredential whose token is herald's API key."""

    def __init__(self, key):
        self.key = key

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.key, int(time.time()) + 3600)


def say(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def main():
    url, key = os.environ["HERALD_URL"], os.environ["HERALD_KEY"]
    with DataverseClient(url, HeraldKeyCredential(key)) as client:
        first = client.records.create("account", {"name": "Contoso (python)", "telephone1": "555-0100"})
        second = client.records.create("account", {"name": "Fabrikam (python)"})
        say("create", ids=[first, second])

        record = client.records.get("account", first, select=["name", "telephone1"])
        say("get", id=record.id, name=record["name"], telephone1=record["telephone1"])

        client.records.update("account", first, {"telephone1": "555-0199"})
        record = client.records.get("account", first, select=["telephone1"])
        say("update", telephone1=record["telephone1"])

        pages = list(
            client.records.get(
                "account",
                filter="contains(name,'(python)')",
                select=["name"],
                orderby=["name asc"],
                page_size=1,
            )
        )
        say("query", pages=len(pages), names=[r["name"] for page in pages for r in page])

        client.records.delete("account", second)
        remaining = [r["name"] for page in client.records.get("account", select=["name"]) for r in page]
        say("delete", remaining=remaining)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test shows this with the traceback on stderr
        say("error", type=type(e).__name__, message=str(e))
        raise
