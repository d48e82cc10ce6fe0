// Unit tests: jsdom, run once (`npm test`); the SDK version is injected as in the build.
import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

export default defineConfig({
  define: { __SDK_VERSION__: JSON.stringify(version) },
  test: {
    environment: "jsdom",
    environmentOptions: { jsdom: { url: "https://shop.example/" } },
    include: ["test/**/*.test.ts"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
