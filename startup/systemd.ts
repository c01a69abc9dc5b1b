/** systemd units and environment files for Kong and the microservices. Pure renderers. */
import type { ServiceConfig } from "../config/schema";
import { serviceUser } from "../config/vm-contract";

export const kongConfPath = "/etc/kong/kong.conf";
/** Root-only; holds Kong's database password (kongPasswordVariable), written at boot. */
export const kongEnvPath = "/etc/kong/kong.env";
export const serviceHome = (name: string) => `/opt/geo-api-layer/${name}`;
/** Where a git-built service's artifact is unpacked (root's), and the service's working directory. */
export const serviceAppDir = (name: string) => `${serviceHome(name)}/app`;
export const serviceEnvPath = (name: string) => `/etc/geo-api-layer/${name}.env`;

export interface KongUnitOptions {
  /** Kong reads its database password from the root-only env file. */
  passwordFile: boolean;
  /** Kong's PostgreSQL runs on this VM and must be up first. */
  localDatabase: boolean;
}

/**
 * Kong's open-file limit: its unit's, and its CLI's under systemd-run, whose default (1024) makes
 * every `kong migrations` warn (prepare_prefix warns below 4096: kong/cmd/utils/prefix_handler.lua
 * at 3.9.1, which kong/cmd/migrations.lua runs too).
 */
export const kongFileLimit = 65536;

/**
 * Kong's own unit (build/package/kong.service at 3.9.1): `kong prepare`, then nginx in the
 * foreground. No [Install] section: Kong is started by the boot script only, after the services
 * answer, so a reboot cannot put it in front of services that are still starting.
 */
export function renderKongUnit(options: KongUnitOptions): string {
  const after = ["network-online.target", ...(options.localDatabase ? ["postgresql.service"] : [])].join(" ");
  return `[Unit]
Description=Kong Gateway
Wants=${after}
After=${after}

[Service]
Type=simple
${options.passwordFile ? `EnvironmentFile=${kongEnvPath}\n` : ""}Environment=KONG_NGINX_DAEMON=off
ExecStartPre=/usr/local/bin/kong prepare -p /usr/local/kong -c ${kongConfPath}
ExecStart=/usr/local/openresty/nginx/sbin/nginx -p /usr/local/kong -c nginx.conf
ExecReload=/usr/local/bin/kong prepare -p /usr/local/kong -c ${kongConfPath}
ExecReload=/usr/local/openresty/nginx/sbin/nginx -p /usr/local/kong -c nginx.conf -s reload
KillMode=mixed
KillSignal=SIGQUIT
TimeoutStopSec=30
Restart=always
RestartSec=5
LimitNOFILE=${kongFileLimit}
`;
}

/**
 * Quotes one word for a unit's Exec line: `$` and `%` would be expanded by systemd, and `"` and
 * `\` end or escape the word.
 */
export function systemdWord(word: string): string {
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, "$$$$").replace(/%/g, "%%")}"`;
}

export function renderServiceUnit(service: ServiceConfig): string {
  const env = serviceEnvPath(service.name);
  const exec =
    service.run.kind === "container"
      ? [
          `ExecStartPre=-/usr/bin/docker rm --force ${service.name}`,
          // Values reach docker through the unit's environment (-e NAME), never on the command line.
          `ExecStart=/usr/bin/docker run --rm --name ${service.name} --network host ${envNames(service)
            .map((name) => `-e ${name} `)
            .join("")}${[service.run.image, ...service.run.args].map(systemdWord).join(" ")}`,
          `ExecStop=/usr/bin/docker stop ${service.name}`,
        ]
      : [
          `User=${serviceUser(service.name)}`,
          `WorkingDirectory=${serviceAppDir(service.name)}`,
          `ExecStart=/bin/bash -c ${systemdWord(`exec ${service.run.command}`)}`,
          "NoNewPrivileges=yes",
          "ProtectSystem=full",
          "PrivateTmp=yes",
        ];
  const docker = service.run.kind === "container";
  return `[Unit]
Description=${service.name} microservice (geo-api-layer)
Wants=network-online.target
After=network-online.target${docker ? " docker.service\nRequires=docker.service" : ""}

[Service]
EnvironmentFile=${env}
${exec.join("\n")}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`;
}

function envNames(service: ServiceConfig): string[] {
  return [...Object.keys(service.env), ...Object.keys(service.secretEnv)].sort();
}

/** One `NAME="value"` line in systemd's EnvironmentFile syntax; the boot script quotes secrets alike. */
export function envLine(name: string, value: string): string {
  if (/[\u0000-\u001f]/.test(value)) throw new Error(`environment value of ${name} has control characters`);
  return `${name}=${JSON.stringify(value)}`;
}

/** The non-secret part of a service's env file; secrets are appended at boot. */
export function renderServiceEnv(service: ServiceConfig): string {
  return Object.keys(service.env)
    .sort()
    .map((name) => `${envLine(name, service.env[name])}\n`)
    .join("");
}
