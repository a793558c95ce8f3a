// `npm start`: the whole system on this machine, one process per service,
// with an embedded Postgres (unless DATABASE_URL) and a private nats-server
// (unless NATS_URL); see scripts/start/ for the pieces.
import "./start/require-transform-types.ts";
import { enableCompileCache } from "node:module";

// The same on-disk code cache the services use (see childEnv): faster restarts.
enableCompileCache(new URL("../.data/node-compile-cache", import.meta.url).pathname);

// `npm start -- --replicas 2`: two instances of every event-consuming service
// (as SHOP_REPLICAS=2), sharing their database and durable consumers.
const at = process.argv.indexOf("--replicas");
const env = at >= 0 ? { ...process.env, SHOP_REPLICAS: process.argv[at + 1] ?? "" } : process.env;

// Loaded only now: the guard above must run before any enum-bearing module.
const { runLauncher } = await import("./start/cli.ts");
// Explicit exit: a lingering handle in some library must not hold the terminal.
process.exit(await runLauncher({ env }));
