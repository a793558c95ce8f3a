// Imported first by scripts/start.ts and scripts/bench-startup.ts, before
// anything that loads the manifests or generated code: those contain
// TypeScript enums, which Node runs only with --experimental-transform-types
// (plain `node file.ts` merely strips types and fails with a SyntaxError).
const typescript = (process.features as { typescript?: string | false }).typescript;
if (typescript !== "transform") {
  const script = process.argv[1] ? process.argv[1].replace(`${process.cwd()}/`, "") : "scripts/start.ts";
  process.stderr.write(
    `${script} loads TypeScript enums, which Node runs only with --experimental-transform-types:\n` +
      `  node --experimental-transform-types --disable-warning=ExperimentalWarning ${script}\n` +
      `(the command its npm script must run; this is Node ${process.versions.node}${typescript ? `, TypeScript mode "${typescript}"` : ""})\n`,
  );
  process.exit(1);
}
