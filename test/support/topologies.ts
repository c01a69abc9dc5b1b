/** What tests ask of a topology, from its own rules (components/topologies/). */
import { topologyRules } from "../../components/topologies/catalog";
import type { Topology } from "../../config/schema";

/** Kong keeps its entities in the stack's Cloud SQL: the topologies whose rules accept `database`. */
export const onCloudSql = (topology: string): boolean => topologyRules[topology as Topology].options.includes("database");
