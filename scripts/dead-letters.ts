// `npm run dead-letters -- <service> list [consumer]` and
// `npm run dead-letters -- <service> replay <dead-letter-id>`: the operator's
// command line for shop.ops.v1.DeadLetterService, against a running shop.
// It signs in as the admin (ADMIN_EMAIL / ADMIN_PASSWORD, else the dev admin
// that `npm start` creates) and calls the service's RPC, so it needs no
// database or NATS access of its own.
import { toJsonString } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { DeadLetterSchema, DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { addressVariable } from "@shop/runtime/manifest";
import { DEV_ADMIN, discoverManifests, portVariable, serviceAddress } from "./start/services.ts";

const usage = "usage: npm run dead-letters -- <service> list [consumer] | <service> replay <dead-letter-id>";

async function main(argv: string[]): Promise<number> {
  const [serviceName, command, argument] = [argv.at(0), argv.at(1), argv.at(2)];
  const manifests = await discoverManifests();
  const manifest = manifests.find((m) => m.name === serviceName);
  if (!manifest || !manifest.serves.includes(DeadLetterService) || !["list", "replay"].includes(command ?? "")) {
    const consumers = manifests.filter((m) => m.serves.includes(DeadLetterService)).map((m) => m.name);
    console.error(`${usage}\n  services with dead letters: ${consumers.join(", ")}`);
    return 2;
  }
  const address = (name: string, port: number) =>
    process.env[addressVariable(name)] ?? serviceAddress(Number(process.env[portVariable(name)] ?? port));
  const transport = (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true });
  const identity = manifests.find((m) => m.name === "identity");
  if (!identity) throw new Error("no identity manifest: the admin signs in there");
  const { accessToken } = await createClient(IdentityService, transport(address("identity", identity.port))).login({
    email: process.env.ADMIN_EMAIL ?? DEV_ADMIN.email,
    password: process.env.ADMIN_PASSWORD ?? DEV_ADMIN.password,
  });
  if (!accessToken) throw new Error("identity answered the admin's Login without an access token");
  const headers = { authorization: `Bearer ${accessToken.token}` };
  const deadLetters = createClient(DeadLetterService, transport(address(manifest.name, manifest.port)));

  if (command === "list") {
    let pageToken = "";
    do {
      const page = await deadLetters.listDeadLetters(
        { consumer: argument ?? "", pageSize: 100, pageToken },
        { headers },
      );
      for (const letter of page.deadLetters) {
        // The payload is binary Protobuf of eventType; listed without it.
        console.log(toJsonString(DeadLetterSchema, { ...letter, payload: new Uint8Array() }));
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return 0;
  }
  if (!argument) {
    console.error(usage);
    return 2;
  }
  const { deadLetter } = await deadLetters.replayDeadLetter({ deadLetterId: argument }, { headers });
  if (!deadLetter) throw new Error(`${manifest.name} answered ReplayDeadLetter without the dead letter`);
  console.log(`replayed ${deadLetter.id} (${deadLetter.eventType} ${deadLetter.eventId}) to ${deadLetter.consumer}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`dead-letters: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
