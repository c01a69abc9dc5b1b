/**
 * Every topology of the schema's list (config/schema.ts `topologies`), by name. A new topology is
 * a file beside these and its entry here and in that list; the compiler holds the two lists equal.
 */
import type { Topology } from "../../config/schema";
import type { TopologyCatalog } from "../../config/topology-rules";
import type { TopologyDefinition } from "./contract";
import { dbless } from "./dbless";
import { hybrid } from "./hybrid";
import { sharedDb } from "./shared-db";
import { sidecar } from "./sidecar";
import { standalone } from "./standalone";

export const topologies: Record<Topology, TopologyDefinition> = { sidecar, "shared-db": sharedDb, standalone, dbless, hybrid };

/** Each topology's rules, which validation takes. */
export const topologyRules = Object.fromEntries(Object.entries(topologies).map(([name, t]) => [name, t.rules])) as TopologyCatalog;
