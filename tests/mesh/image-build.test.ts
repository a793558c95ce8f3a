// The docker build emulation (image/build.ts) on small Dockerfiles of its
// own: what a stage gets from the context honours .dockerignore, RUN works in
// the stage's own paths, stages pass files on, builds part ways at their build
// arguments, and what it does not emulate it refuses by name.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImages, type Image } from "./image/build.ts";
import { BuildContext } from "./image/context.ts";
import { parseDockerfile } from "./image/dockerfile.ts";

const scratch = mkdtempSync(join(tmpdir(), "image-build-"));
chmodSync(scratch, 0o755); // the build's RUN user works inside
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const dockerfile = `
ARG BASE=debian:12-slim
FROM \${BASE} AS build
WORKDIR /app
COPY . /src
RUN mkdir -p /out && cp /src/a.txt /out/ \\
 && echo "built in $(pwd)" > /out/where.txt
ARG FLAVOUR
RUN echo "$FLAVOUR" > /out/flavour.txt

FROM \${BASE} AS app
ENV GREETING=hello
WORKDIR /srv
COPY --from=build /out/ ./
USER 1000:1000
CMD ["cat", "a.txt"]

FROM app AS leaky
COPY secret/key.txt ./

FROM app AS wild
COPY *.txt ./
`;

function context(): BuildContext {
  const dir = mkdtempSync(join(scratch, "context-"));
  const files = { "a.txt": "A\n", "secret/key.txt": "do not ship\n", ".dockerignore": "secret\n" };
  for (const [file, contents] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), contents);
  }
  return new BuildContext(dir);
}

// Builds run their RUN steps as an unprivileged user, which takes root (as on the dev and CI machines).
describe.skipIf(process.getuid?.() !== 0)("docker build emulation", () => {
  const ctx = context();
  const build = (target: string, flavour: string) => ({
    name: `${target} ${flavour}`,
    target,
    buildArgs: { FLAVOUR: flavour },
    context: ctx,
  });
  let images: Map<string, Promise<Image>>;
  beforeAll(() => {
    images = buildImages(
      parseDockerfile(dockerfile),
      [build("app", "mild"), build("app", "hot"), build("leaky", "mild"), build("wild", "mild")],
      { scratch: join(scratch, "layers"), installedCheckout: scratch, parallelism: 2 },
    );
  });
  const built = (name: string) => images.get(name) ?? Promise.reject(new Error(`no build named ${name}`));
  const file = (image: Image, path: string) => readFileSync(join(image.root, path), "utf8");

  it("carries out the stages: COPY from the context, RUN in the stage's own paths, COPY --from, ENV, USER, CMD", async () => {
    const image = await built("app mild");
    expect(file(image, "srv/a.txt")).toBe("A\n");
    // The working directory was the stage's /app (a directory of its own here).
    expect(file(image, "srv/where.txt")).toMatch(/^built in \S+\/app\n$/);
    expect(image).toMatchObject({
      env: { GREETING: "hello" },
      workdir: "/srv",
      user: "1000:1000",
      cmd: ["cat", "a.txt"],
    });
    // As in an image, what COPY put there belongs to root.
    expect(statSync(join(image.root, "srv/a.txt")).uid).toBe(0);
  });

  it("parts builds at their build arguments", async () => {
    expect(file(await built("app mild"), "srv/flavour.txt")).toBe("mild\n");
    expect(file(await built("app hot"), "srv/flavour.txt")).toBe("hot\n");
  });

  it("refuses a COPY of what .dockerignore excludes, as Docker does", async () => {
    await expect(built("leaky mild")).rejects.toThrow(
      /COPY secret\/key\.txt \.\/\n.*secret\/key\.txt: not found in the build context \(.*excluded by \.dockerignore\)/,
    );
  });

  it("refuses what it does not emulate, by name", async () => {
    await expect(built("wild mild")).rejects.toThrow(/wildcards in COPY sources are not emulated/);
  });
});
