/**
 * dbless: Kong on every VM beside the services, without a database: its entities come from a
 * declarative file in the boot script, so changing them is a rollout of every group.
 */
import { declarativeConfigPath } from "../../startup/startup-script";
import { kongEntities, renderDeclarativeConfig } from "../../startup/kong-entities";
import type { TopologyDefinition } from "./contract";
import { gatewayNetwork, gatewayTierRules, selfContainedGatewayFleets } from "./gateway-fleets";
import { internalSources } from "./kong-node";

export const dbless: TopologyDefinition = {
  rules: { ...gatewayTierRules, options: [], otherPorts: [], check: () => {} },
  network: gatewayNetwork,
  build(context) {
    const entities = kongEntities(context.config.services, { internalSources: internalSources(context.config) });
    return selfContainedGatewayFleets(context, { declarativeConfigPath }, { kind: "dbless", declarativeConfig: renderDeclarativeConfig(entities) });
  },
};
