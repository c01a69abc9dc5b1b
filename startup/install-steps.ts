/**
 * The boot script's first-boot install: the apt packages, Kong from its signed repository, each
 * service's image or the artifact the builder made of it (nothing is built on a fleet VM). Runs
 * once per template (behind the install marker).
 */
import { serviceUser } from "../config/vm-contract";
import type { StartupScriptInput } from "./boot-input";
import { shellWord } from "./shell";
import { serviceAppDir, serviceHome } from "./systemd";

function aptPackages(input: StartupScriptInput): string[] {
  const packages = new Set(["ca-certificates", "curl", "jq"]);
  if (input.kong) packages.add("gnupg");
  if (input.kong?.mode.kind === "local-db") packages.add("postgresql");
  for (const service of input.services) {
    if (service.run.kind === "container") packages.add("docker.io");
    else service.run.packages.forEach((p) => packages.add(p));
  }
  return [...packages].sort();
}

export function installSteps(input: StartupScriptInput): string {
  const keyring = "/usr/share/keyrings/kong-gateway-39.gpg";
  const repo = input.kong?.packageRepository.url;
  const fingerprint = input.kong?.packageRepository.keyFingerprint.toUpperCase();
  const keyId = fingerprint?.slice(-16);
  const kongInstall = input.kong
    ? [
        "# Kong's signed per-version repository; the key must be the one Kong publishes.",
        "key=$(mktemp)",
        `retry 5 curl -fsSL -o "$key" ${repo}/gpg.${keyId}.key`,
        `gpg --show-keys --with-colons "$key" | grep -q '^fpr:.*${fingerprint}:' || fail "Kong's repository key has an unexpected fingerprint"`,
        `mkdir -p "$ROOT${keyring.slice(0, keyring.lastIndexOf("/"))}"`,
        `gpg --batch --yes --dearmor -o "$ROOT${keyring}" "$key"`,
        'rm -f "$key"',
        `write_file /etc/apt/sources.list.d/kong-gateway-39.list 0644 <<<"deb [signed-by=${keyring}] ${repo}/deb/debian ${input.debianCodename} main"`,
        "retry 5 apt_get update",
        `retry 5 apt_get install kong=${input.kong.version}`,
        "apt-mark hold kong",
      ]
    : [];
  const serviceInstalls = input.services.flatMap((service) => {
    const run = service.run;
    if (run.kind === "container") return [`retry 5 docker pull ${shellWord(run.image)}`];
    const home = serviceHome(service.name);
    const user = serviceUser(service.name);
    const artifact = input.artifacts[service.name];
    if (!artifact) throw new Error(`no artifact for the git-built service ${service.name}`);
    return [
      `id -u ${user} >/dev/null 2>&1 || useradd --system --home-dir ${home} --create-home --shell /usr/sbin/nologin ${user}`,
      `install_artifact ${[service.name, artifact.bucket, artifact.object, artifact.generation, artifact.sha256].map(shellWord).join(" ")} "$ROOT${serviceAppDir(service.name)}"`,
    ];
  });
  return [
    "install_packages() {",
    ...(input.kong ? ["local key"] : []),
    'log "installing packages (first boot)"',
    "retry 5 apt_get update",
    `retry 5 apt_get install ${aptPackages(input).join(" ")}`,
    ...kongInstall,
    ...serviceInstalls,
    'touch "$INSTALL_MARKER"',
    "}",
  ].join("\n  ");
}
