// ESLint: typescript-eslint's strict, type-checked rules over everything we
// write (formatting is Prettier's job, see .prettierrc.json). `npm run lint`
// runs it and the Prettier check, in CI. Source code (services/*/src, mesh/,
// scripts/) is held to the strict set; tests get the narrower set below.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: [
      "gen/**",
      "**/node_modules/**",
      "**/dist/**",
      "services/*/.dist-*/**",
      ".data/**",
      ".proto-deps/**",
      "services/runtime/src/grpc-gen/**",
      "test-results/**",
    ],
  },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js", "services/*/drizzle.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A number in a template string prints as expected; objects, undefined
      // and null (which print as nonsense) stay errors.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // `(x) => void` callbacks written as arrow shorthands (`() => log.push(x)`)
      // read clearly; a void value used anywhere else is still an error.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // `for await (const _ of stream)` drains a stream: `_` names a value on purpose unused.
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^_$" }],
      // Passing on a caught error or an abort reason (unknown/any) is allowed, as
      // only-throw-error allows throwing one; a literal or object is still an error.
      "@typescript-eslint/prefer-promise-reject-errors": [
        "error",
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
    },
  },
  {
    // Tests: a `!` after an expect() that already proved the value exists is
    // the clearest way to say so, and a wrong one fails the test loudly.
    files: ["tests/**", "services/*/test/**", "scripts/**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      // Suite state (`let system: TestSystem`) is set in beforeAll, so afterAll
      // must guard it (`system?.stop()`) for a beforeAll that failed; and
      // expectations reach into possibly-missing values with `?.` so that the
      // assertion, not a TypeError, reports it. Both look unnecessary to the types.
      "@typescript-eslint/no-unnecessary-condition": "off",
      // Test doubles implement async interfaces (async generators for server
      // streams, async start/stop) without having anything to await.
      "@typescript-eslint/require-await": "off",
      // vitest's asymmetric matchers (expect.any(), expect.stringContaining())
      // are typed any, and tests put them inside the objects they compare.
      "@typescript-eslint/no-unsafe-assignment": "off",
    },
  },
  {
    // The mesh tests read the generated Kubernetes/Istio YAML back as plain
    // parsed documents (unknown-shaped trees of any) and walk them; typing
    // every resource kind's full schema would mean restating it. What these
    // tests check is the values, so the unsafe-any rules are off here only.
    files: ["tests/mesh/**"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/restrict-template-expressions": "off",
    },
  },
);
