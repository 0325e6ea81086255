// What a user does with npm dynamics-web-api against herald, unchanged:
// create, retrieve, update, retrieveMultiple (paged, following the next
// link), deleteRecord on accounts. herald's API key is the token
// onTokenRefresh returns; the self-signed certificate is trusted through
// NODE_EXTRA_CA_CERTS (set by the test).
//
// Reads HERALD_URL (https://127.0.0.1:PORT) and HERALD_KEY; prints one JSON
// object per step on stdout, for tests/it/clients to check.

import { DynamicsWebApi } from "dynamics-web-api";

const say = (step, fields) => console.log(JSON.stringify({ step, ...fields }));

const api = new DynamicsWebApi({
  serverUrl: process.env.HERALD_URL,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => process.env.HERALD_KEY,
});

try {
  const first = await api.create({ collection: "accounts", data: { name: "Contoso (node)", telephone1: "555-0100" } });
  const second = await api.create({ collection: "accounts", data: { name: "Fabrikam (node)" } });
  say("create", { ids: [first, second] });

  let record = await api.retrieve({ collection: "accounts", key: first, select: ["name", "telephone1"] });
  say("retrieve", { id: record.accountid, name: record.name, telephone1: record.telephone1 });

  await api.update({ collection: "accounts", key: first, data: { telephone1: "555-0199" } });
  record = await api.retrieve({ collection: "accounts", key: first, select: ["telephone1"] });
  say("update", { telephone1: record.telephone1 });

  const request = {
    collection: "accounts",
    select: ["name"],
    filter: "contains(name,'(node)')",
    orderBy: ["name asc"],
    maxPageSize: 1,
  };
  const names = [];
  const links = [];
  let page = await api.retrieveMultiple(request);
  for (;;) {
    names.push(...page.value.map((r) => r.name));
    if (!page.oDataNextLink) break;
    links.push(page.oDataNextLink);
    page = await api.retrieveMultiple(request, page.oDataNextLink);
  }
  say("retrieveMultiple", { names, nextLinks: links });

  await api.deleteRecord({ collection: "accounts", key: second });
  const all = await api.retrieveMultiple({ collection: "accounts", select: ["name"] });
  say("deleteRecord", { remaining: all.value.map((r) => r.name) });
} catch (e) {
  say("error", { type: e?.name ?? typeof e, message: e?.message ?? String(e), status: e?.status });
  process.exitCode = 1;
}
