/**
 * The messenger this layer serves (YugabyteDB-Samples/geo-distributed-messenger): what a stack
 * that runs its services must also give them. Facts from its code at the pinned commit
 * (test/fixtures/messenger/<commit>.json).
 */
import type { ParsedStackConfig, ServiceConfig } from "./schema";
import type { Report } from "./validate";

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
