/**
 * sidecar: Kong on every VM beside the services, with its own PostgreSQL on the VM; each VM
 * migrates its database and writes its entities itself. No shared state: a region's loss takes
 * nothing from the others.
 */
import { adminRequests, kongEntities, renderAdminRequests } from "../../startup/kong-entities";
import type { TopologyDefinition } from "./contract";
import { gatewayFleets, gatewayNetwork, gatewayTierRules } from "./gateway-fleets";
import { internalSources, kongConfFor } from "./kong-node";
import { renderVmScript, serviceSecretIds } from "./vm-scripts";

export const sidecar: TopologyDefinition = {
  rules: {
    ...gatewayTierRules,
    options: [],
    otherPorts: [{ port: 5432, owner: "the sidecar's PostgreSQL" }],
    check: () => {},
  },
  network: gatewayNetwork,
  build(context) {
    const { config } = context;
    const entities = kongEntities(config.services, { internalSources: internalSources(config) });
    const mode = { kind: "local-db", adminRequests: renderAdminRequests(adminRequests(entities)) } as const;
    return gatewayFleets(context, {
      script: (region, services, kongUrl) =>
        context.loadBalancerAddress.apply((address) =>
          renderVmScript(config, "gateway", region, services, kongUrl, { conf: kongConfFor(config, address, { database: { host: "127.0.0.1", verifiedTls: false } }), mode }),
        ),
      secretIds: serviceSecretIds(config, config.services),
    });
  },
};
