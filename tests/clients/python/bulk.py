"""What a user does with Microsoft's PowerPlatform-Dataverse-Client's bulk,
SQL and FetchXML calls against herald, unchanged:
records.create with a list (CreateMultiple), records.update with a list
(UpdateMultiple, broadcast and paired), query.sql (a filter and an
aggregate), FetchXML pages (execute_pages, 2 records a page over 5 records)
and records.delete with a list (BulkDelete, whose job the test follows).

Reads HERALD_URL (https://127.0.0.1:PORT) and HERALD_KEY; prints one JSON
object per step on stdout, for tests/it/clients to check.
"""

import json
import os
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
        names = [f"Bulk {n} (python)" for n in range(1, 6)]
        ids = client.records.create("account", [{"name": n, "numberofemployees": 10} for n in names])
        say("createMultiple", ids=ids)

        client.records.update("account", ids, {"telephone1": "555-0142"})
        client.records.update("account", ids[:2], [{"numberofemployees": 20}, {"numberofemployees": 30}])
        rows = [client.records.retrieve("account", i, select=["telephone1", "numberofemployees"]) for i in ids]
        say(
            "updateMultiple",
            telephones=[r["telephone1"] for r in rows],
            employees=[r["numberofemployees"] for r in rows],
        )

        rows = client.query.sql(
            "SELECT name, numberofemployees FROM account WHERE telephone1 = '555-0142' AND numberofemployees > 15 ORDER BY name"
        )
        say("sql", names=[r["name"] for r in rows], employees=[r["numberofemployees"] for r in rows])
        rows = client.query.sql(
            "SELECT COUNT(accountid) AS n, SUM(numberofemployees) AS employees FROM account WHERE telephone1 = '555-0142'"
        )
        say("sqlAggregate", rows=[{"n": r["n"], "employees": r["employees"]} for r in rows])

        fetch = (
            '<fetch count="2"><entity name="account"><attribute name="name" />'
            '<filter><condition attribute="telephone1" operator="eq" value="555-0142" /></filter>'
            '<order attribute="name" /></entity></fetch>'
        )
        pages = [[r["name"] for r in page.records] for page in client.query.fetchxml(fetch).execute_pages()]
        say("fetchxmlPages", pages=pages)

        job = client.records.delete("account", ids[:3])
        say("bulkDelete", job=job)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the test shows this with the traceback on stderr
        say("error", type=type(e).__name__, message=str(e))
        raise
