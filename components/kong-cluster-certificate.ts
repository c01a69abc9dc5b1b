/**
 * KongClusterCertificate: the certificate and key of hybrid mode's `cluster_mtls = shared`, made as
 * `kong hybrid gen_cert` makes them (Kong 3.9.1 kong/cmd/hybrid.lua: EC secp384r1,
 * CN=kong_clustering, 1095 days). Shared, not PKI: in shared mode a control plane accepts a data
 * plane only if the client certificate's SHA-256 equals its own (kong/clustering/tls.lua
 * validate_shared_cert), so the one pair is the whole trust, with no CA whose key would need
 * guarding too; every VM of both roles holds the same key either way, from one template per role.
 *
 * The certificate is public and goes into the VMs' metadata; the key only into Secret Manager,
 * which the VMs read at boot with their own accounts, as the database password. tls.PrivateKey
 * keeps it in the stack's state as a secret (encrypted), never in plaintext.
 */
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import * as tls from "@pulumi/tls";

/** What Kong's data planes send as SNI and its control planes' certificate names in shared mode. */
const kongClusterCommonName = "kong_clustering";
/** `kong hybrid gen_cert`'s default validity. */
const kongClusterCertificateDays = 1095;

export interface KongClusterCertificateArgs {
  prefix: string;
  labels: Record<string, string>;
  /** The enabled APIs (secretmanager). */
  apis: pulumi.Resource[];
}

export class KongClusterCertificate extends pulumi.ComponentResource {
  /** PEM; public. */
  public readonly certificate: pulumi.Output<string>;
  /** The key's secret, which every control and data plane reads at boot. */
  public readonly keySecret: gcp.secretmanager.Secret;

  constructor(name: string, args: KongClusterCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:kong:KongClusterCertificate", name, {}, opts);
    // @pulumi/tls marks privateKeyPem secret itself (privateKey.js: additionalSecretOutputs).
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P384" }, { parent: this });
    const certificate = new tls.SelfSignedCert(
      `${name}-cert`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: kongClusterCommonName },
        validityPeriodHours: kongClusterCertificateDays * 24,
        // A `pulumi up` in the last 90 days makes a new one: both roles roll onto it (README, hybrid).
        earlyRenewalHours: 90 * 24,
        // Both ends of the connection present it: the control plane as a server, a data plane as a client.
        allowedUses: ["digital_signature", "key_agreement", "server_auth", "client_auth"],
      },
      { parent: this },
    );
    this.certificate = certificate.certPem;
    this.keySecret = new gcp.secretmanager.Secret(
      `${name}-key`,
      { secretId: `${args.prefix}-kong-cluster-key`, replication: { auto: {} }, labels: args.labels },
      { parent: this, dependsOn: args.apis },
    );
    new gcp.secretmanager.SecretVersion(
      `${name}-key`,
      // Base64, a single line, as the boot script reads secrets (startup/boot-library.ts clusterKeyFunctions).
      { secret: this.keySecret.id, secretData: pulumi.secret(key.privateKeyPem.apply((pem) => Buffer.from(pem).toString("base64"))) },
      { parent: this, additionalSecretOutputs: ["secretData"] },
    );
    this.registerOutputs({ certificate: this.certificate, keySecret: this.keySecret });
  }
}
