/**
 * The messenger this layer serves (YugabyteDB-Samples/geo-distributed-messenger): what a stack
 * that runs its services must also give them. Facts from its code at the pinned commit
 * (test/fixtures/messenger/<commit>.json).
 */
import type { ParsedStackConfig, ServiceConfig } from "./schema";
import type { Report } from "./field-path";

export const messengerRepository = "https://github.com/YugabyteDB-Samples/geo-distributed-messenger.git";

/** Prefix Attachments looks for among the project's buckets (ObjectStorageService.PICTURES_BUCKET). */
export const picturesBucketPrefix = "pictures";

/** Whether a service (resolved, or as a stack file writes it) is built from the messenger's repository. */
export function isMessengerBuild(service: { run: { kind: string; repository?: string } }): boolean {
  return service.run.kind === "git" && service.run.repository === messengerRepository;
}

/** The service built from `directory` of the messenger's repository, if it is one. */
export function messengerPart(service: ServiceConfig): string | undefined {
  return isMessengerBuild(service) && service.run.kind === "git" ? service.run.directory : undefined;
}

/**
 * A service that a Google Application Load Balancer reaches directly (standalone's entry service)
 * must keep idle connections longer than the load balancer's 600 s, or the load balancer sends
 * requests on connections the service is closing: 502s. The messenger's services are Spring Boot
 * 2.7.3 on Tomcat (their pom.xml at the pinned commit), whose keep-alive timeout defaults to the
 * 60 s connection timeout; Spring Boot binds `server.tomcat.keep-alive-timeout` from this variable.
 * A variable the stack file sets wins.
 */
export function behindGoogleLoadBalancer(service: ServiceConfig, keepaliveSec: number): ServiceConfig {
  if (!messengerPart(service) || service.env.SERVER_TOMCAT_KEEPALIVETIMEOUT !== undefined) return service;
  return { ...service, env: { ...service.env, SERVER_TOMCAT_KEEPALIVETIMEOUT: `${keepaliveSec}s` } };
}

/**
 * Messaging needs its own database (YugabyteDB, outside this stack): DB_URL and the DB_PWD secret.
 * Attachments in Google Cloud mode needs the pictures bucket (`pictures`).
 */
export function checkMessengerNeeds(parsed: ParsedStackConfig, err: Report): void {
  parsed.services.forEach((service, i) => {
    const part = messengerPart(service);
    if (part === "messenger") {
      if (!service.env.DB_URL) err(["services", i, "env", "DB_URL"], "required: the JDBC URL of Messaging's own database (YugabyteDB or PostgreSQL, outside this stack; README, Messaging's database)");
      if (!service.secretEnv.DB_PWD) err(["services", i, "secretEnv", "DB_PWD"], "required: the id of the Secret Manager secret holding that database's password");
    }
    if (part === "attachments" && service.env.ATTACHMENTS_SERVICE_STORAGE_IMPL === "google-storage" && parsed.pictures?.service !== service.name) {
      err(["pictures"], `required: ${service.name} stores pictures in Cloud Storage; set pictures: { service: ${service.name} } (and publicRead, see README)`);
    }
  });
}
