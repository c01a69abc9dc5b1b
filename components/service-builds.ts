/**
 * ServiceBuilds: each git-built service built once, by a one-shot builder VM, into the stack's
 * builds bucket; `pulumi up` waits until every artifact is stored before any template names it.
 *
 * Why a VM and not Cloud Build: it runs the fleet's own image (the same Debian, packages and
 * architecture the artifact will run on), reaches the repository and Maven Central through the
 * stack's own Cloud NAT, holds only its own service account's grants, and boots in the VM harness
 * like every other role; Cloud Build would add an API, a build service account and a trigger.
 */
import * as command from "@pulumi/command";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { buildObjects } from "../config/check-builds";
import type { BuildsPlan } from "../config/stack-config";
import type { ServiceArtifact } from "../startup/boot-input";
import { renderBuilderScript } from "../startup/builder-script";
import { ArtifactReads, createWorkloadIdentity, vmSettings } from "./vm";

export interface ServiceBuildsArgs {
  prefix: string;
  project: string;
  plan: BuildsPlan;
  /** Where the builder runs: a zone of a region with Cloud NAT. */
  zone: string;
  image: string;
  subnetwork: pulumi.Input<string>;
  /** The zone's Cloud NAT: the builder clones and downloads dependencies through it. */
  nat: pulumi.Resource;
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

/** The builder boots and installs before it builds; `pulumi up` gives it this much beyond the build's own budget. */
const builderStartSec = 300;

/**
 * Polls the bucket every POLL_SEC (15 by default) until each build's manifest is stored, and prints
 * them as one JSON object by key; a failure log of this builder (BUILDER_ID) ends it at once with
 * the log's lines. Runs where `pulumi up` runs, with its Google credentials:
 * GOOGLE_OAUTH_ACCESS_TOKEN, else gcloud's application-default or user credentials; STORAGE_API
 * names another endpoint (a private one, or a test's).
 */
export function renderBuildWaitScript(builder: { name: string; zone: string }, timeoutSec: number): string {
  return `set -euo pipefail
deadline=$((SECONDS + ${timeoutSec}))
api=\${STORAGE_API:-https://storage.googleapis.com}/storage/v1/b/$BUCKET/o
token() { if [[ -n \${GOOGLE_OAUTH_ACCESS_TOKEN:-} ]]; then echo "$GOOGLE_OAUTH_ACCESS_TOKEN"; else gcloud auth application-default print-access-token 2>/dev/null || gcloud auth print-access-token; fi; }
token >/dev/null || { echo "no Google credentials to read gs://$BUCKET: set GOOGLE_OAUTH_ACCESS_TOKEN, or run gcloud auth application-default login" >&2; exit 1; }
# get OBJECT: its content on stdout when stored; status 1 when not (yet) or on a transient error, 2
# when these credentials may not read it (which waiting does not mend).
get() {
  local body status
  body=$(printf 'Authorization: Bearer %s\\n' "$(token)" | curl -sS -H @- -w '\\n%{http_code}' "$api/\${1//\\//%2F}?alt=media") || return 1
  status=\${body##*$'\\n'}
  case $status in
    200) printf '%s\\n' "\${body%$'\\n'*}" ;;
    404) return 1 ;;
    401 | 403) echo "the credentials pulumi up runs with may not read gs://$BUCKET/$1 (HTTP $status)" >&2; return 2 ;;
    *) echo "gs://$BUCKET/$1: HTTP $status; retrying" >&2; return 1 ;;
  esac
}
manifests=()
for key in $BUILDS; do
  while true; do
    status=0
    manifest=$(get "builds/$key.json") || status=$?
    if ((status == 0)); then break; fi
    if ((status == 2)); then exit 1; fi
    if log=$(get "builds/$key.failed/$BUILDER_ID.log" 2>/dev/null); then
      printf 'the build of %s failed on ${builder.name}; its last lines:\\n%s\\nFix the cause, then run the builder again: pulumi up --replace <the URN of ${builder.name}> (pulumi stack --show-urns)\\n' "$key" "$log" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "gs://$BUCKET/builds/$key.json not stored after ${timeoutSec} s; the builder's log: gcloud compute instances get-serial-port-output ${builder.name} --zone ${builder.zone}" >&2
      exit 1
    fi
    sleep "\${POLL_SEC:-15}"
  done
  echo "stored: $key" >&2
  manifests+=("\\"$key\\": $manifest")
done
(IFS=,; echo "{\${manifests[*]}}")
`;
}

/** The builder's manifests (the wait's output) as each service's artifact; a malformed one fails `pulumi up`. */
export function artifactsFromManifests(stdout: string, plan: BuildsPlan): Record<string, ServiceArtifact> {
  const manifests = JSON.parse(stdout) as Record<string, { object?: unknown; generation?: unknown; sha256?: unknown }>;
  const artifacts: Record<string, ServiceArtifact> = {};
  for (const build of plan.builds) {
    const manifest = manifests[build.key];
    const { artifact } = buildObjects(build.key);
    if (!manifest || manifest.object !== artifact || !/^\d+$/.test(String(manifest.generation)) || !/^[0-9a-f]{64}$/.test(String(manifest.sha256))) {
      throw new Error(`the builder's manifest of ${build.key} is not {object: "${artifact}", generation, sha256}: ${JSON.stringify(manifest)}`);
    }
    for (const service of build.services) {
      artifacts[service] = { bucket: plan.bucketName, object: artifact, generation: String(manifest.generation), sha256: String(manifest.sha256) };
    }
  }
  return artifacts;
}

export class ServiceBuilds extends pulumi.ComponentResource {
  public readonly bucket: gcp.storage.Bucket;
  public readonly builder: gcp.compute.Instance;
  /** Each git-built service's artifact by service name, known once the builder has stored them all. */
  public readonly artifacts: pulumi.Output<Record<string, ServiceArtifact>>;
  private readonly plan: BuildsPlan;

  constructor(name: string, args: ServiceBuildsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:build:ServiceBuilds", name, {}, opts);
    const { plan } = args;
    this.plan = plan;
    this.bucket = new gcp.storage.Bucket(
      `${name}-bucket`,
      {
        name: plan.bucketName,
        // Multi-region: a VM in any region downloads while another region is lost.
        location: plan.location,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        // What a template names must stay: artifacts are never overwritten (ifGenerationMatch=0)
        // and the bucket refuses to go while it holds them.
        forceDestroy: false,
        labels: args.labels,
      },
      { parent: this, dependsOn: args.apis },
    );
    const { account, bootGrants } = createWorkloadIdentity(
      name,
      { project: args.project, accountId: `${args.prefix}-builder`, displayName: "Builds the git-built services once", secretIds: [], apis: args.apis },
      this,
    );
    const member = pulumi.interpolate`serviceAccount:${account.email}`;
    // Create and read, never delete or overwrite: a stored artifact stays what the templates name.
    const writes = ["roles/storage.objectCreator", "roles/storage.objectViewer"].map(
      (role) => new gcp.storage.BucketIAMMember(`${name}-builder-${role.split(".")[1]}`, { bucket: this.bucket.name, role, member }, { parent: this }),
    );
    const builderName = `${args.prefix}-builder`;
    this.builder = new gcp.compute.Instance(
      `${name}-builder`,
      {
        name: builderName,
        zone: args.zone,
        machineType: plan.machineType,
        bootDisk: { initializeParams: { image: args.image, size: 30, type: "pd-balanced" } },
        metadataStartupScript: renderBuilderScript({ bucket: plan.bucketName, builds: plan.builds, budgetSec: plan.timeoutSec }),
        ...vmSettings({ subnetwork: args.subnetwork, serviceAccountEmail: account.email, tags: [], labels: args.labels }),
      },
      // Another set of builds is a new builder, which builds what the bucket lacks and powers off.
      { parent: this, dependsOn: [...args.apis, ...bootGrants, ...writes, args.nat], replaceOnChanges: ["metadataStartupScript"], deleteBeforeReplace: true },
    );
    const wait = new command.local.Command(
      `${name}-stored`,
      {
        interpreter: ["/bin/bash", "-c"],
        create: renderBuildWaitScript({ name: builderName, zone: args.zone }, plan.timeoutSec + builderStartSec),
        environment: { BUCKET: this.bucket.name, BUILDS: plan.builds.map((b) => b.key).join(" "), BUILDER_ID: this.builder.instanceId },
        // A new builder is a new set of builds to wait for.
        triggers: [this.builder.instanceId],
      },
      { parent: this, dependsOn: [this.builder] },
    );
    this.artifacts = wait.stdout.apply((stdout) => artifactsFromManifests(stdout, plan));
    this.registerOutputs({ bucket: this.bucket, builder: this.builder, artifacts: this.artifacts });
  }

  /** What the VMs running `services` may read: their artifacts, no other object, no listing. */
  readsOf(services: string[]): ArtifactReads {
    return {
      bucket: this.bucket.name,
      objects: [...new Set(services.flatMap((s) => this.plan.builds.filter((b) => b.services.includes(s)).map((b) => buildObjects(b.key).artifact)))].sort(),
    };
  }
}
