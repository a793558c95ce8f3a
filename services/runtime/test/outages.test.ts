// Issue 12's runtime pieces: which errors are outages (Unavailable, not
// Internal), a dependency dying mid-call reaching callers as Unavailable in
// our words, the postgres.js fault signature, and logging that never blocks
// a process whose stdout is gone.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { describe, expect, it } from "vitest";
import { closeDependencyClients, createDependencyClients } from "../src/clients.ts";
import { NonBlockingStdout } from "../src/log-destination.ts";
import { isOutage } from "../src/outages.ts";
import { isPostgresDriverNextWriteFault, isUnheardSocketFault } from "../src/process-guards.ts";

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe("isOutage", () => {
  it("recognises a database, broker or connection that is not there, also wrapped in causes", () => {
    for (const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "CONNECTION_CLOSED",
      "CONNECT_TIMEOUT",
      "57P01",
      "57P03",
      "08006",
    ])
      expect({ code, outage: isOutage(withCode(code)) }).toEqual({ code, outage: true });
    expect(isOutage(new Error("Failed query: select 1", { cause: withCode("CONNECTION_DESTROYED") }))).toBe(true);
    expect(isOutage(Object.assign(new Error("connection refused"), { name: "ConnectionError" }))).toBe(true);
  });

  it("leaves real faults alone: constraint violations, syntax errors, bugs", () => {
    for (const code of ["23505", "42601", "40001", "22P02"]) expect(isOutage(withCode(code))).toBe(false);
    expect(isOutage(new TypeError("x is undefined"))).toBe(false);
    expect(isOutage(undefined)).toBe(false);
  });
});

describe("the postgres.js nextWrite fault (porsager/postgres #1154)", () => {
  it("is recognised from its message and first frame only", () => {
    const fault = new TypeError("Cannot read properties of null (reading 'write')");
    fault.stack = `${fault.name}: ${fault.message}\n    at Immediate.nextWrite (file:///srv/services/order/dist/main.js:113:109432)\n    at process.processImmediate (node:internal/timers:574:21)`;
    expect(isPostgresDriverNextWriteFault(fault)).toBe(true);
    const ours = new TypeError("Cannot read properties of null (reading 'write')");
    ours.stack = `${ours.name}: ${ours.message}\n    at placeOrder (file:///srv/services/order/dist/main.js:1:1)`;
    expect(isPostgresDriverNextWriteFault(ours)).toBe(false);
    expect(isPostgresDriverNextWriteFault(new Error("Cannot read properties of null (reading 'write')"))).toBe(false);
  });
});

describe("a socket's reset that nobody listens for", () => {
  const fault = (code: string, syscall: string, stack: string) =>
    Object.assign(new Error(`${syscall} ${code}`), { code, syscall, stack: `Error: ${syscall} ${code}\n${stack}` });

  it("is recognised by its code, its syscall and a stack of Node's internals only", () => {
    const internal = "    at TCP.onStreamRead (node:internal/stream_base_commons:216:20)";
    expect(isUnheardSocketFault(fault("ECONNRESET", "read", internal))).toBe(true);
    expect(
      isUnheardSocketFault(
        fault("EPIPE", "write", "    at afterWriteDispatched (node:internal/stream_base_commons:159:15)"),
      ),
    ).toBe(true);
    // Our code on the stack, another code or syscall, or no error at all: a real fault.
    expect(
      isUnheardSocketFault(fault("ECONNRESET", "read", `${internal}\n    at relay (file:///srv/main.js:1:1)`)),
    ).toBe(false);
    expect(isUnheardSocketFault(fault("ENOENT", "read", internal))).toBe(false);
    expect(isUnheardSocketFault(fault("ECONNRESET", "open", internal))).toBe(false);
    expect(isUnheardSocketFault(new TypeError("x is undefined"))).toBe(false);
    expect(isUnheardSocketFault("ECONNRESET")).toBe(false);
  });
});

describe("a dependency that dies mid-call", () => {
  it("reaches the caller as Unavailable with our message, not Aborted 'read ECONNRESET'", async () => {
    // Accepts the call, then the process "dies": every socket destroyed.
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.session?.socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const clients = createDependencyClients(
      { catalog: CatalogService },
      { catalog: `http://127.0.0.1:${String(port)}` },
      { env: {} },
    );
    try {
      const error = await clients.catalog.getProduct({ productId: "p" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect({ code: Code[(error as ConnectError).code], message: (error as ConnectError).rawMessage }).toEqual({
        code: "Unavailable",
        message: "catalog is unavailable right now; try again",
      });
    } finally {
      closeDependencyClients(clients);
      server.close();
    }
  });
});

describe("logging to stdout", () => {
  it("writes the lines of one turn of the event loop together, in order, and a fatal line at once", async () => {
    const lines = (text: string) => text.split("\n").filter(Boolean);
    const script = `
      const { createLogger } = await import(${JSON.stringify(fileURLToPath(new URL("../src/log.ts", import.meta.url)))});
      const logger = createLogger("batch-test");
      for (let i = 0; i < 3; i++) logger.info({ i }, "batched");
      logger.fatal("fatal");
      process.stderr.write("after fatal\\n");
      for (let i = 3; i < 5; i++) logger.info({ i }, "batched");
      setImmediate(() => { logger.info("next turn"); process.exit(0); });`;
    const child = spawn(
      process.execPath,
      ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    expect(await new Promise((resolve) => child.once("exit", resolve))).toBe(0);
    // "next turn" was still pending at process.exit: written on 'exit'.
    const messages = lines(stdout).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(["batched", "batched", "batched", "fatal", "batched", "batched", "next turn"]);
  });

  it("holds a turn's lines until the end of the turn, or until flushSync", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shop-log-batch-"));
    const file = path.join(dir, "stdout");
    execFileSync("mkfifo", [file]);
    const reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(file, constants.O_WRONLY | constants.O_NONBLOCK);
    const readable = () => {
      const buffer = Buffer.alloc(64 * 1024);
      try {
        return buffer.subarray(0, readSync(reader, buffer)).toString();
      } catch {
        return ""; // EAGAIN: nothing written yet
      }
    };
    try {
      const destination = new NonBlockingStdout(writer);
      destination.write("a\n");
      destination.write("b\n");
      expect(readable()).toBe("");
      await new Promise((resolve) => setImmediate(resolve));
      expect(readable()).toBe("a\nb\n");
      destination.write("c\n");
      destination.flushSync();
      expect(readable()).toBe("c\n");
    } finally {
      closeSync(reader);
      closeSync(writer);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("logging to a stdout nobody reads any more", () => {
  /** A named pipe in a fresh directory, both ends open non-blocking, as a launcher's pipe is. */
  function fifo(): { reader: number; writer: number; remove(): void } {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shop-log-pipe-"));
    const file = path.join(dir, "stdout");
    execFileSync("mkfifo", [file]);
    const reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(file, constants.O_WRONLY | constants.O_NONBLOCK);
    return { reader, writer, remove: () => rmSync(dir, { recursive: true, force: true }) };
  }

  it("drops lines at once, and every later one, when the pipe's reader is gone (EPIPE)", () => {
    const pipe = fifo();
    closeSync(pipe.reader);
    const destination = new NonBlockingStdout(pipe.writer);
    const started = performance.now();
    for (let i = 0; i < 1_000; i++) destination.write(`{"msg":"line ${String(i)}"}\n`);
    destination.flushSync();
    expect(performance.now() - started).toBeLessThan(500);
    expect({ closed: destination.closed, dropped: destination.dropped }).toEqual({ closed: true, dropped: 1_000 });
    closeSync(pipe.writer);
    pipe.remove();
  });

  it("waits at most about a second on a pipe nobody drains, then drops lines without waiting", () => {
    const pipe = fifo();
    const destination = new NonBlockingStdout(pipe.writer);
    const line = `${"x".repeat(1023)}\n`;
    const started = performance.now();
    for (let i = 0; i < 200; i++) destination.write(line); // 200 KiB into a 64 KiB pipe
    destination.flushSync();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThan(900);
    expect(elapsed).toBeLessThan(3_000);
    expect(destination.closed).toBe(false);
    expect(destination.dropped).toBeGreaterThan(100);
    closeSync(pipe.reader);
    closeSync(pipe.writer);
    pipe.remove();
  });

  it("never blocks: a process logging fatal lines to a closed pipe still exits on SIGTERM", async () => {
    const log = fileURLToPath(new URL("../src/log.ts", import.meta.url));
    const script = `
      const { createLogger } = await import(${JSON.stringify(log)});
      const logger = createLogger("epipe-test");
      process.on("SIGTERM", () => process.exit(0));
      setInterval(() => logger.fatal("still here"), 5);
      process.stderr.write("ready\\n");`;
    const child = spawn(
      process.execPath,
      ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    await new Promise<void>((resolve) => child.stderr.once("data", () => resolve()));
    child.stdout.destroy(); // the reader is gone: every write is EPIPE from now on
    await new Promise((resolve) => setTimeout(resolve, 300)); // let it log into the void a while
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("hung"), 5_000))]);
    if (code === "hung") child.kill("SIGKILL");
    expect(code).toBe(0);
  });
});
