// @ts-check
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

/**
 * The layer rules of the design (shared/design.md, "The connector seam"), so that they stay kept:
 * `http` does not import features; features do not import `ingest`, `runners` or another feature's
 * store; the pipeline and the protocols do not import features; vendor protocol libraries stay under
 * `connectors/` (and `oauth/`, where the token service will live).
 */
const protocolLibraries = ["imapflow", "@azure/msal-node", "nodemailer", "nodemailer/lib/mail-composer", "smtp-server"];
const layer = (files, patterns, message, vendorsAllowed = false) => ({
  files,
  ignores: ["**/*.test.ts"],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        paths: vendorsAllowed ? [] : protocolLibraries.map((name) => ({ name, message: "Protocol libraries stay behind src/connectors (MailSource) and src/oauth." })),
        patterns: patterns.length ? [{ group: patterns, message }] : [],
      },
    ],
  },
});
const layers = [
  layer(["src/**/*.ts"], [], ""),
  layer(["src/http/**/*.ts"], ["**/features/**", "**/ingest/**", "**/runners/**"], "The HTTP layer serves every feature and imports none: features import it."),
  layer(
    ["src/features/**/*.ts"],
    ["**/ingest/**", "**/runners/**", "../*/*.store.js"],
    "A feature talks to another feature through its service, never its store, and does not reach into the ingest pipeline or the runners.",
  ),
  layer(["src/ingest/**/*.ts"], ["**/features/**", "**/runners/**", "**/http/**"], "The ingest pipeline knows neither features nor runners: they call it."),
  layer(["src/connectors/**/*.ts"], ["**/features/**", "**/ingest/**", "**/runners/**", "**/db/**", "**/http/**"], "A connector knows its protocol only.", true),
  layer(["src/oauth/**/*.ts"], ["**/features/**", "**/ingest/**", "**/runners/**", "**/db/**", "**/http/**"], "The token service knows Entra ID only.", true),
  layer(
    ["src/cluster/**/*.ts"],
    ["**/features/**", "**/ingest/**", "**/runners/**", "**/connectors/**", "**/http/**"],
    "The nodes' coordination (leases, change feed) knows the database and no feature: the runners and the app use it.",
  ),
  layer(["src/db/**/*.ts"], ["**/features/**", "**/ingest/**", "**/runners/**", "**/connectors/**", "**/http/**"], "The database layer knows no feature."),
  layer(["emulators/**/*.ts"], ["**/src/**"], "The emulator stands in for Microsoft: it shares no code with Mailroom, so it cannot agree with Mailroom's mistakes.", true),
  layer(["src/shared/**/*.ts"], ["../*/**", "!../shared/**"], "shared/ is imported by everything and imports nothing of Mailroom's."),
];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "data/", ".bench/", "bin/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["*.js", "*.mjs", "scripts/*.mjs"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      // Fastify plugins are async by contract even when they register routes synchronously
      "@typescript-eslint/require-await": "off",
      "no-restricted-syntax": [
        "error",
        { selector: "TSEnumDeclaration", message: "Use a string-literal union instead of an enum." },
        { selector: "ExportDefaultDeclaration", message: "Use named exports." },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  // the web app talks to Mailroom through its HTTP API only, like any other client
  {
    files: ["web/**/*.{ts,tsx}"],
    ...reactHooks.configs.flat.recommended,
  },
  {
    files: ["web/src/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/src/**", "../../src/**"], message: "The web app knows Mailroom through its HTTP API only (web/src/api)." }] }],
    },
  },
  ...layers,
  // tool config files are loaded by their default export
  { files: ["vitest.config.ts", "eslint.config.js", "web/vite.config.ts"], rules: { "no-restricted-syntax": "off" } },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
);
