// Builds dist/clickstream.min.js (IIFE, window.clickstream), dist/clickstream.esm.js and
// the type declarations; prints the IIFE's minified and gzipped size, writes dist/size.json.
import { build, transform } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const { version } = JSON.parse(readFileSync("package.json", "utf8"));
const common = {
  bundle: true,
  target: "es2020",
  define: { __SDK_VERSION__: JSON.stringify(version) },
  legalComments: "none",
  logLevel: "warning",
};

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
// type-check everything (tests included), then emit declarations for ESM users
const tsc = (...args) => execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", ...args], { stdio: "inherit" });
tsc("-p", "tsconfig.json", "--noEmit");
tsc("-p", "tsconfig.types.json");

// tsconfigRaw: no "use strict" prologue (tsconfig's `strict` implies alwaysStrict), 13 bytes the
// IIFE does not need; the output is otherwise identical
const iife = await build({
  ...common,
  entryPoints: ["src/global.ts"],
  write: false,
  format: "iife",
  minify: true,
  tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
});
// A second minify pass over the whole bundle: the bundler minifies module by module, so it leaves
// one `var` statement per module and names identifiers per module; one pass over the joined
// output merges the declarations and renames everything at once (about 25 B less gzipped).
const { code } = await transform(iife.outputFiles[0].text, { minify: true, target: common.target, legalComments: "none" });
writeFileSync("dist/clickstream.min.js", code.trimEnd()); // a final newline costs ~5 B gzipped
await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/clickstream.esm.js", format: "esm" });

const min = readFileSync("dist/clickstream.min.js");
const size = { min_bytes: min.length, gzip_bytes: gzipSync(min, { level: 9 }).length };
writeFileSync("dist/size.json", JSON.stringify(size) + "\n");
console.log(`dist/clickstream.min.js  ${size.min_bytes} B minified, ${size.gzip_bytes} B gzipped (goal <= 3072 B)`);
