import { runService } from "@shop/runtime/service";
import { definition } from "./service.ts";

await runService(definition);
