// The buf/validate/validate.proto that postinstall prints from the installed
// @bufbuild/protovalidate must compile back to exactly the descriptor the
// validator runs with, or the rules buf checks at build time would differ from
// the ones enforced at run time.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clone, createRegistry, equals, fromBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const buf = join(root, "node_modules/.bin/buf");
const work = mkdtempSync(join(tmpdir(), "derived-protovalidate-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Drops what may legitimately differ: json names (protobuf-es leaves them out
 * of embedded descriptors), source info, and `syntax = "proto2"`, which
 * compilers may record either explicitly or as the empty default.
 */
function normalise(file: FileDescriptorProto): FileDescriptorProto {
  const copy = clone(FileDescriptorProtoSchema, file);
  copy.sourceCodeInfo = undefined;
  if (copy.syntax === "proto2") copy.syntax = "";
  const visit = (messages: FileDescriptorProto["messageType"]) => {
    for (const m of messages) {
      for (const f of [...m.field, ...m.extension]) f.jsonName = "";
      visit(m.nestedType);
    }
  };
  visit(copy.messageType);
  for (const e of copy.extension) e.jsonName = "";
  return copy;
}

describe("derived buf/validate/validate.proto", () => {
  it("compiles back to the descriptor embedded in @bufbuild/protovalidate", () => {
    const image = join(work, "validate.binpb");
    execFileSync(
      buf,
      [
        "build",
        join(root, ".proto-deps"),
        "--path",
        join(root, ".proto-deps/buf/validate/validate.proto"),
        "-o",
        image,
      ],
      {
        cwd: root,
      },
    );
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(image));
    const compiled = set.file.find((f) => f.name === "buf/validate/validate.proto");
    expect(compiled).toBeDefined();
    const expected = normalise(file_buf_validate_validate.proto);
    const actual = normalise(compiled!);
    expect(actual.messageType.map((m) => m.name)).toEqual(expected.messageType.map((m) => m.name));
    expect(equals(FileDescriptorProtoSchema, actual, expected)).toBe(true);
    // Options (the CEL of every standard rule) are extensions: compare the JSON
    // form, which spells them out when given a registry that knows them.
    const registry = createRegistry(file_buf_validate_validate);
    const encoded = (file: FileDescriptorProto) =>
      JSON.stringify(toJson(FileDescriptorProtoSchema, file, { registry }));
    expect(encoded(expected)).toContain("string.min_len");
    expect(encoded(actual)).toEqual(encoded(expected));
    // ...and that comparison can fail: drop one rule's CEL.
    const tampered = clone(FileDescriptorProtoSchema, actual);
    tampered.messageType.find((m) => m.name === "StringRules")!.field[0].options!.$unknown = [];
    expect(encoded(tampered)).not.toEqual(encoded(expected));
  });
});
