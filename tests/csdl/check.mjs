// Reads a CSDL XML document with OASIS's own converter (odata-csdl's
// xml2json) in strict mode: an unexpected element, attribute or text, or
// a reference it cannot follow, is an error. Prints each problem and exits
// 1 when there is one. Usage: node check.mjs FILE
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { xml2json } = require("odata-csdl");

const file = process.argv[2];
if (!file) {
  console.error("usage: node check.mjs FILE");
  process.exit(2);
}
const xml = readFileSync(file, "utf8");
try {
  const json = xml2json(xml, { strict: true });
  const schemas = Object.keys(json).filter((k) => !k.startsWith("$"));
  console.log(`odata-csdl: strict conversion succeeded (schemas: ${schemas.join(", ")})`);
} catch (e) {
  const where = e.parser ? ` at line ${e.parser.line}, column ${e.parser.column}` : "";
  console.error(`odata-csdl: ${e.message}${where}`);
  process.exit(1);
}
