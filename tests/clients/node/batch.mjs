// What a user does with npm dynamics-web-api's batch, FetchXML and
// single-valued association calls against herald, unchanged:
//   - executeBatch: two creates in a change set (the second referring to the
//     first by Content-ID) and a retrieveMultiple outside it;
//   - executeBatch with a failing request in the change set: nothing of it
//     is written;
//   - fetchAll: a FetchXML query of 5 accounts, 1 per page (5 pages, the
//     client following the paging cookie);
//   - associateSingleValued / disassociateSingleValued: a contact's
//     parentcustomerid set to an account and cleared ($ref).
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

try {
  // A change set: an account, then a contact bound to it by Content-ID.
  api.startBatch();
  api.create({ collection: "accounts", data: { name: "Batch Co (node)" }, contentId: "1" });
  api.create({ collection: "contacts", data: { lastname: "Batchelor", "parentcustomerid_account@odata.bind": "$1" }, contentId: "2" });
  api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "name eq 'Batch Co (node)'" });
  const responses = await api.executeBatch();
  const [batchAccount, batchContact] = responses;
  const bound = await api.retrieve({ collection: "contacts", key: batchContact, select: ["lastname", "_parentcustomerid_value"] });
  say("executeBatch", {
    count: responses.length,
    account: batchAccount,
    contact: batchContact,
    contactParent: bound._parentcustomerid_value ?? null,
    retrieved: responses[2]?.value?.map((r) => r.name) ?? null,
  });

  // A change set whose second request fails: nothing of it commits.
  api.startBatch();
  api.create({ collection: "accounts", data: { name: "Never (node)" } });
  api.update({ collection: "accounts", key: "00000000-0000-0000-0000-000000000001", data: { name: "nobody" } });
  // Dataverse answers a failed change set with the failing request's
  // response alone; the client hands it back as the batch's result.
  const failed = await api.executeBatch();
  const never = await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "name eq 'Never (node)'" });
  say("executeBatchRolledBack", {
    responses: failed.map((r) => ({ status: r?.status ?? null, code: r?.error?.code ?? null })),
    never: never.value.length,
  });

  // fetchAll over 5 pages.
  for (const n of [1, 2, 3, 4, 5]) {
    await api.create({ collection: "accounts", data: { name: `Fetch ${n} (node)` } });
  }
  const fetchXml = `<fetch count="1"><entity name="account"><attribute name="name" /><filter><condition attribute="name" operator="like" value="Fetch %" /></filter><order attribute="name" /></entity></fetch>`;
  const all = await api.fetchAll({ collection: "accounts", fetchXml, includeAnnotations: "Microsoft.Dynamics.CRM.fetchxmlpagingcookie" });
  say("fetchAll", { names: all.value.map((r) => r.name) });

  // associateSingleValued, then disassociateSingleValued.
  const account = await api.create({ collection: "accounts", data: { name: "Parent (node)" } });
  const contact = await api.create({ collection: "contacts", data: { lastname: "Child" } });
  await api.associateSingleValued({
    collection: "contacts",
    primaryKey: contact,
    navigationProperty: "parentcustomerid_account",
    relatedCollection: "accounts",
    relatedKey: account,
  });
  let c = await api.retrieve({ collection: "contacts", key: contact, select: ["_parentcustomerid_value"] });
  const parent = c._parentcustomerid_value;
  await api.disassociateSingleValued({ collection: "contacts", primaryKey: contact, navigationProperty: "parentcustomerid_account" });
  c = await api.retrieve({ collection: "contacts", key: contact, select: ["_parentcustomerid_value"] });
  say("associateSingleValued", { account, contact, parent, after: c._parentcustomerid_value ?? null });
} catch (e) {
  say("error", { type: e?.name ?? typeof e, message: e?.message ?? String(e), status: e?.status, raw: Array.isArray(e) ? e.map((x) => x?.message) : undefined });
  process.exitCode = 1;
}
