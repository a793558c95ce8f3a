// Derives the gRPC standard services every server exposes (grpc.health.v1 and
// grpc.reflection v1 + v1alpha) at install time, then generates protobuf-es
// TypeScript for them into services/runtime/src/grpc-gen/.
//
// Why: @shop/runtime implements Health and ServerReflection as Connect services,
// which needs their generated descriptors. Third-party .proto sources may not be
// committed and the buf registry is unreachable, but the installed
// grpc-health-check and @grpc/reflection packages ship the canonical files. We
// copy them into the gitignored .proto-deps/ tree (at paths matching their
// `package`, as buf expects) and generate with buf.gen.grpc.yaml, a template
// that targets only .proto-deps/grpc so our own gen/ stays untouched.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const derivedRoot = join(root, ".proto-deps");

interface ProtoSource {
  /** Installed package that ships the file. */
  pkg: string;
  /** Path of the file inside that package. */
  file: string;
  /** Protobuf package the file must declare; decides its path under .proto-deps. */
  protoPackage: string;
}

const sources: ProtoSource[] = [
  { pkg: "grpc-health-check", file: "proto/health/v1/health.proto", protoPackage: "grpc.health.v1" },
  {
    pkg: "@grpc/reflection",
    file: "build/proto/grpc/reflection/v1/reflection.proto",
    protoPackage: "grpc.reflection.v1",
  },
  {
    pkg: "@grpc/reflection",
    file: "build/proto/grpc/reflection/v1alpha/reflection.proto",
    protoPackage: "grpc.reflection.v1alpha",
  },
];

function packageDir(pkg: string): string {
  // Resolve package.json rather than the entry point: both packages are CommonJS
  // with entry points deep inside build/.
  const require = createRequire(join(root, "package.json"));
  return dirname(require.resolve(`${pkg}/package.json`));
}

export function copyGrpcProtos(): string[] {
  return sources.map(({ pkg, file, protoPackage }) => {
    const from = join(packageDir(pkg), file);
    const declared = /^package\s+([\w.]+)\s*;/m.exec(readFileSync(from, "utf8"))?.[1];
    // An upgrade that moved a file to another package would silently break the
    // generated import paths; fail loudly instead.
    if (declared !== protoPackage) {
      throw new Error(`${pkg}/${file} declares package ${declared}, expected ${protoPackage}`);
    }
    const to = join(derivedRoot, ...protoPackage.split("."), file.slice(file.lastIndexOf("/") + 1));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    return to;
  });
}

export function generateGrpcCode(): void {
  execFileSync(join(root, "node_modules", ".bin", "buf"), ["generate", "--template", "buf.gen.grpc.yaml"], {
    cwd: root,
    stdio: "inherit",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const target of copyGrpcProtos()) console.log(`derived ${relative(root, target)}`);
  generateGrpcCode();
  console.log("generated services/runtime/src/grpc-gen from .proto-deps/grpc");
}
