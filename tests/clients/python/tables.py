"""What a user does with Microsoft's PowerPlatform-Dataverse-Client's table
calls against herald, unchanged: tables.create (a table with a decimal, a
date, a yes/no and a choice column), tables.get, tables.add_columns,
create_lookup_field to account, create_alternate_key, records written and
read in the new table (the choice given by its label),
create_many_to_many_relationship with contact (get_relationship,
delete_relationship), remove_columns, and tables.delete.

Reads HERALD_URL (https://127.0.0.1:PORT) and HERALD_KEY; prints one JSON
object per step on stdout, for tests/it/clients to check.
"""

import json
import os
import time
from enum import IntEnum

from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.models import ManyToManyRelationshipMetadata


class HeraldKeyCredential:
    """A TokenCredential whose token is herald's API key."""

    def __init__(self, key):
        self.key = key

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.key, int(time.time()) + 3600)


class Phase(IntEnum):
    Plan = 100000000
    Build = 100000001


def say(step, **fields):
    print(json.dumps({"step": step, **fields}, default=str), flush=True)


def main():
    url, key = os.environ["HERALD_URL"], os.environ["HERALD_KEY"]
    with DataverseClient(url, HeraldKeyCredential(key)) as client:
        info = client.tables.create(
            "new_Project",
            {"new_Budget": "decimal", "new_Due": "datetime", "new_Done": "bool", "new_Phase": Phase},
        )
        say(
            "create",
            logical=info.logical_name,
            entity_set=info.entity_set_name,
            primary_name=info.primary_name_attribute,
            primary_id=info.primary_id_attribute,
            metadata_id=info.metadata_id,
        )

        got = client.tables.get("new_Project")
        say("get", schema_name=got.schema_name, entity_set=got.entity_set_name)

        added = client.tables.add_columns("new_Project", {"new_Notes": "memo", "new_Code": "string"})
        say("add_columns", added=added)

        lookup = client.tables.create_lookup_field("new_project", "new_AccountId", "account", display_name="Account")
        say("lookup", relationship=lookup.relationship_schema_name, lookup=lookup.lookup_schema_name)

        key = client.tables.create_alternate_key("new_project", "new_CodeKey", ["new_code"])
        say("key", metadata_id=key.metadata_id)

        account = client.records.create("account", {"name": "Owner of projects (python)"})
        project = client.records.create(
            "new_project",
            {
                "new_name": "Apollo",
                "new_budget": 12.5,
                "new_done": True,
                "new_phase": "Build",
                "new_code": "P-1",
                "new_AccountId@odata.bind": f"/accounts({account})",
            },
        )
        record = client.records.get("new_project", project, select=["new_name", "new_phase", "new_budget", "_new_accountid_value"])
        say(
            "record",
            id=project,
            name=record["new_name"],
            phase=record["new_phase"],
            budget=record["new_budget"],
            account=record["_new_accountid_value"],
            expected_account=account,
        )

        m2m = client.tables.create_many_to_many_relationship(
            ManyToManyRelationshipMetadata(
                schema_name="new_project_contact",
                entity1_logical_name="new_project",
                entity2_logical_name="contact",
            )
        )
        found = client.tables.get_relationship("new_project_contact")
        say(
            "many_to_many",
            id=m2m.relationship_id,
            schema=m2m.relationship_schema_name,
            type=m2m.relationship_type,
            found_id=found.relationship_id if found else None,
            found_type=found.relationship_type if found else None,
        )
        client.tables.delete_relationship(m2m.relationship_id)
        say("delete_relationship", after=client.tables.get_relationship("new_project_contact"))

        removed = client.tables.remove_columns("new_Project", ["new_Notes"])
        say("remove_columns", removed=removed)

        client.records.delete("account", account)
        client.tables.delete("new_Project")
        say("delete", after=client.tables.get("new_Project"))


if __name__ == "__main__":
    main()
