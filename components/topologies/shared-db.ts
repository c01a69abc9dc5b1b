/**
 * shared-db (the default): Kong on every VM beside the services, all on one Cloud SQL database
 * that the migrator migrates and writes Kong's entities into. A gateway that cannot reach the
 * database at boot starts from the same entities as a declarative config.
 */
import { adminRequests, kongEntities, renderAdminRequests, renderDeclarativeConfig } from "../../startup/kong-entities";
import type { TopologyDefinition } from "./contract";
import { gatewayFleets, gatewayNetwork, gatewayTierRules } from "./gateway-fleets";
import { internalSources } from "./kong-node";
import { sharedKongDatabase } from "./shared-database";
import { serviceSecretIds } from "./vm-scripts";

export const sharedDb: TopologyDefinition = {
  rules: { ...gatewayTierRules, options: ["database"], otherPorts: [], check: () => {} },
  network: gatewayNetwork,
  build(context) {
    const { config } = context;
    const shared = sharedKongDatabase(context);
    const entities = kongEntities(config.services, { internalSources: internalSources(config) });
    const fleets = gatewayFleets(context, {
      script: (region, services, kongUrl) => shared.nodeScript("gateway", region, services, kongUrl, renderDeclarativeConfig(entities)),
      secretIds: [shared.passwordSecretId, ...serviceSecretIds(config, config.services)],
    });
    const migrator = shared.migrate(renderAdminRequests(adminRequests(entities)));
    return { ...fleets, deployCheck: { ...fleets.deployCheck, rollouts: [migrator, ...fleets.deployCheck.rollouts] }, database: shared.outputs };
  },
};
