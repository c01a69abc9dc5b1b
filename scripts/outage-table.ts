/**
 * Prints the README's region-outage table from the example stacks' recorded plans.
 * Run: node -r ./scripts/register-ts.js scripts/outage-table.ts
 */
import { projectDir, readStackFile } from "../plan/stack-file";
import { recordStackFile } from "../plan/stack-recording";
import { databaseRoles, groupRegions, outageReport, renderOutageRow } from "../plan/outage";

export const exampleStacks: Record<string, string> = {
  sidecar: "us-sidecar",
  "shared-db": "us-multi",
  standalone: "us-standalone",
  dbless: "us-dbless",
  hybrid: "us-hybrid",
};

async function main() {
  console.log("| Topology | Lost region | Public routes served from | Regional routes still served | Config changes | New VMs join |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [topology, stack] of Object.entries(exampleStacks)) {
    const { resources } = await recordStackFile(readStackFile(projectDir, stack), stack);
    for (const region of groupRegions(resources)) {
      console.log(renderOutageRow(topology, outageReport(resources, region), databaseRoles(resources)));
    }
  }
}

if (require.main === module) main();
