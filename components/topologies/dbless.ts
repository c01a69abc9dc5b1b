/**
 * dbless: Kong on every VM beside the services, without a database: its entities come from a
 * declarative file in the boot script, so changing them is a rollout of every group.
 */
import { declarativeConfigPath } from "../../startup/startup-script";
import { kongEntities, renderDeclarativeConfig } from "../../startup/kong-entities";
import type { TopologyDefinition } from "./contract";
import { gatewayFleets, gatewayNetwork, gatewayTierRules } from "./gateway-fleets";
import { internalSources, kongConfFor } from "./kong-node";
import { renderVmScript, serviceSecretIds } from "./vm-scripts";

export const dbless: TopologyDefinition = {
  rules: { ...gatewayTierRules, options: [], otherPorts: [], check: () => {} },
  network: gatewayNetwork,
  build(context) {
    const { config } = context;
    const entities = kongEntities(config.services, { internalSources: internalSources(config) });
    const mode = { kind: "dbless", declarativeConfig: renderDeclarativeConfig(entities) } as const;
    return gatewayFleets(context, {
      script: (region, services, kongUrl) =>
        context.loadBalancerAddress.apply((address) =>
          renderVmScript(config, "gateway", region, services, kongUrl, { conf: kongConfFor(config, address, { declarativeConfigPath }), mode }),
        ),
      secretIds: serviceSecretIds(config, config.services),
    });
  },
};
