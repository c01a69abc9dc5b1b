/**
 * sidecar: Kong on every VM beside the services, with its own PostgreSQL on the VM; each VM
 * migrates its database and writes its entities itself. No shared state: a region's loss takes
 * nothing from the others.
 */
import { adminRequests, kongEntities, renderAdminRequests } from "../../startup/kong-entities";
import type { TopologyDefinition } from "./contract";
import { gatewayNetwork, gatewayTierRules, selfContainedGatewayFleets } from "./gateway-fleets";
import { internalSources } from "./kong-node";

export const sidecar: TopologyDefinition = {
  rules: {
    ...gatewayTierRules,
    options: [],
    otherPorts: [{ port: 5432, owner: "the sidecar's PostgreSQL" }],
    check: () => {},
  },
  network: gatewayNetwork,
  build(context) {
    const entities = kongEntities(context.config.services, { internalSources: internalSources(context.config) });
    return selfContainedGatewayFleets(
      context,
      { database: { host: "127.0.0.1", verifiedTls: false } },
      { kind: "local-db", adminRequests: renderAdminRequests(adminRequests(entities)) },
    );
  },
};
