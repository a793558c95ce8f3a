// The checked-in YAML under mesh/ is exactly what the generator makes from the
// contracts and the manifests: change either and this fails until
// `npm run generate:mesh` is run and the result committed.
import { describe, expect, it } from "vitest";
import { generateMesh } from "../../mesh/generator/generate.ts";
import { findDrift } from "../../mesh/generator/main.ts";
import { manifests } from "./fixtures.ts";

describe("generated mesh files", () => {
  it("are up to date (run `npm run generate:mesh` if this fails)", () => {
    expect(findDrift(generateMesh(manifests))).toEqual([]);
  });

  it("are deterministic", () => {
    expect([...generateMesh(manifests)]).toEqual([...generateMesh(manifests)]);
  });
});
