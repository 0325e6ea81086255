// What a user does with npm dynamics-web-api's metadata calls against
// herald, unchanged:
//   - retrieveEntity (by LogicalName, then by MetadataId), retrieveEntities
//     with $filter, retrieveAttributes with a type cast;
//   - createEntity, then updateEntity with the whole definition and
//     mergeLabels (its DisplayName changed);
//   - createAttribute (a choice), read back with the Picklist cast and
//     $expand=OptionSet;
//   - createRelationship (a one-to-many with its lookup, and a
//     many-to-many), retrieveRelationships with either cast;
//   - retrieveGlobalOptionSets, retrieveGlobalOptionSet (herald has none:
//     an empty list and a 404).
//
// Reads HERALD_URL (https://127.0.0.1:PORT/) and HERALD_KEY; prints one JSON
// object per step on stdout, for tests/it/clients to check.

import { DynamicsWebApi } from "dynamics-web-api";

const say = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

const api = new DynamicsWebApi({
  serverUrl: process.env.HERALD_URL,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => process.env.HERALD_KEY,
});

const label = (text) => ({
  "@odata.type": "Microsoft.Dynamics.CRM.Label",
  LocalizedLabels: [{ "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", Label: text, LanguageCode: 1033 }],
});
const text = (l) => l?.UserLocalizedLabel?.Label ?? null;

try {
  const account = await api.retrieveEntity({
    key: "LogicalName='account'",
    select: ["LogicalName", "EntitySetName", "PrimaryIdAttribute", "MetadataId"],
  });
  const byId = await api.retrieveEntity({ key: account.MetadataId, select: ["LogicalName"] });
  say("retrieveEntity", {
    logical: account.LogicalName,
    set: account.EntitySetName,
    primary: account.PrimaryIdAttribute,
    byId: byId.LogicalName,
  });

  const builtIn = await api.retrieveEntities({ select: ["LogicalName", "IsCustomEntity"], filter: "IsCustomEntity eq false" });
  say("retrieveEntities", {
    count: builtIn.value.length,
    hasAccount: builtIn.value.some((e) => e.LogicalName === "account"),
    anyCustom: builtIn.value.some((e) => e.IsCustomEntity),
  });

  const strings = await api.retrieveAttributes({
    entityKey: "LogicalName='account'",
    castType: "Microsoft.Dynamics.CRM.StringAttributeMetadata",
    select: ["LogicalName", "MaxLength"],
  });
  say("retrieveAttributes", {
    name: strings.value.find((a) => a.LogicalName === "name")?.MaxLength ?? null,
    allStrings: strings.value.every((a) => typeof a.MaxLength === "number"),
  });

  const created = await api.createEntity({
    data: {
      "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
      SchemaName: "new_Gizmo",
      DisplayName: label("Gizmo"),
      DisplayCollectionName: label("Gizmos"),
      Description: label("Gizmos of the node test"),
      OwnershipType: "UserOwned",
      HasActivities: false,
      HasNotes: false,
      IsActivity: false,
      Attributes: [
        {
          "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
          SchemaName: "new_Name",
          AttributeType: "String",
          MaxLength: 100,
          RequiredLevel: { Value: "None" },
          DisplayName: label("Name"),
          IsPrimaryName: true,
        },
      ],
    },
  });
  const gizmo = await api.retrieveEntity({ key: "LogicalName='new_gizmo'" });
  say("createEntity", {
    created: created ?? null,
    metadataId: gizmo.MetadataId,
    set: gizmo.EntitySetName,
    display: text(gizmo.DisplayName),
  });

  gizmo.DisplayName = label("Widget");
  gizmo.DisplayCollectionName = label("Widgets");
  const updated = await api.updateEntity({ data: gizmo, mergeLabels: true });
  const after = await api.retrieveEntity({ key: gizmo.MetadataId, select: ["DisplayName", "DisplayCollectionName", "Description", "SchemaName"] });
  say("updateEntity", {
    result: updated ?? null,
    display: text(after.DisplayName),
    collection: text(after.DisplayCollectionName),
    description: text(after.Description),
    schema: after.SchemaName,
  });

  const attribute = await api.createAttribute({
    entityKey: "LogicalName='new_gizmo'",
    data: {
      "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
      SchemaName: "new_Size",
      AttributeType: "Picklist",
      DisplayName: label("Size"),
      RequiredLevel: { Value: "None" },
      OptionSet: {
        "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
        IsGlobal: false,
        OptionSetType: "Picklist",
        Options: [
          { Value: 100000000, Label: label("Small") },
          { Value: 100000001, Label: label("Large") },
        ],
      },
    },
  });
  const picklists = await api.retrieveAttributes({
    entityKey: "LogicalName='new_gizmo'",
    castType: "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
    select: ["LogicalName"],
    expand: [{ property: "OptionSet", select: ["Options"] }],
  });
  const size = picklists.value.find((a) => a.LogicalName === "new_size");
  say("createAttribute", {
    created: attribute ?? null,
    options: size?.OptionSet?.Options?.map((o) => text(o.Label)) ?? null,
  });

  const lookup = await api.createRelationship({
    data: {
      "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
      SchemaName: "new_account_new_gizmo",
      ReferencedEntity: "account",
      ReferencedAttribute: "accountid",
      ReferencingEntity: "new_gizmo",
      CascadeConfiguration: { Assign: "NoCascade", Delete: "RemoveLink", Merge: "NoCascade", Reparent: "NoCascade", Share: "NoCascade", Unshare: "NoCascade" },
      Lookup: {
        "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        AttributeType: "Lookup",
        SchemaName: "new_AccountId",
        DisplayName: label("Account"),
        RequiredLevel: { Value: "None" },
      },
    },
  });
  const manyToMany = await api.createRelationship({
    data: {
      "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
      SchemaName: "new_gizmo_contact",
      Entity1LogicalName: "new_gizmo",
      Entity2LogicalName: "contact",
      IntersectEntityName: "new_gizmo_contact",
    },
  });
  const oneToMany = await api.retrieveRelationships({
    castType: "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
    select: ["SchemaName", "ReferencedEntity", "ReferencingAttribute"],
    filter: "ReferencingEntity eq 'new_gizmo'",
  });
  const nn = await api.retrieveRelationships({
    castType: "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
    select: ["SchemaName", "IntersectEntityName", "Entity1LogicalName", "Entity2LogicalName"],
  });
  say("createRelationship", {
    lookup: lookup ?? null,
    manyToMany: manyToMany ?? null,
    oneToMany: oneToMany.value
      .filter((r) => r.ReferencedEntity === "account")
      .map((r) => ({ schema: r.SchemaName, attribute: r.ReferencingAttribute })),
    nn: nn.value.map((r) => ({ schema: r.SchemaName, intersect: r.IntersectEntityName, one: r.Entity1LogicalName, two: r.Entity2LogicalName })),
  });

  const sets = await api.retrieveGlobalOptionSets({ select: ["Name"] });
  let missing = null;
  try {
    await api.retrieveGlobalOptionSet({ key: "Name='new_nosuch'" });
  } catch (e) {
    missing = { status: e?.status ?? null, code: e?.code ?? null };
  }
  say("retrieveGlobalOptionSets", { count: sets.value.length, missing });
} catch (e) {
  say("error", { type: e?.name ?? typeof e, message: e?.message ?? String(e), status: e?.status });
  process.exitCode = 1;
}
