/// <reference types="vite/client" />
// Every file that `buf generate` wrote to gen/src, loaded through vite's glob
// import so that a new .proto is covered by the contract tests without edits.
import type { DescFile, DescMessage } from "@bufbuild/protobuf";

const modules = import.meta.glob<Record<string, unknown>>("../../gen/src/**/*_pb.ts", { eager: true });

export const generatedFiles: DescFile[] = Object.values(modules).flatMap((exports) =>
  Object.entries(exports)
    .filter(([name]) => name.startsWith("file_"))
    .map(([, file]) => file as DescFile),
);

/** Every message type declared in our contracts, nested ones included. */
export const contractMessages: DescMessage[] = generatedFiles.flatMap((file) => {
  const all: DescMessage[] = [];
  const visit = (message: DescMessage) => {
    all.push(message);
    message.nestedMessages.forEach(visit);
  };
  file.messages.forEach(visit);
  return all;
});
