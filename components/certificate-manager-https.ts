/**
 * CertificateManagerHttps: the global load balancer's HTTPS certificates, one Certificate Manager
 * certificate per domain, each authorized through DNS, in a certificate map with an entry per domain.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { certificateManagerName } from "../config/naming";

export interface CertificateStatus {
  /** Certificate Manager's state at the last `pulumi up` or `pulumi refresh`: PROVISIONING, ACTIVE, FAILED. */
  state: string;
  /** The CNAME that authorizes the certificate, to create in the domain's DNS zone. */
  dnsAuthorization: { name: string; type: string; data: string };
}

export interface CertificateManagerHttpsArgs {
  prefix: string;
  domains: string[];
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

/**
 * One Certificate Manager certificate per domain, each authorized through DNS, in a certificate
 * map with an entry per domain. DNS authorization provisions a certificate before any traffic
 * reaches the load balancer, and a change of domains only adds or removes the changed domains'
 * certificates: those kept keep serving throughout.
 */
export class CertificateManagerHttps extends pulumi.ComponentResource {
  /** `//certificatemanager.googleapis.com/projects/…/certificateMaps/…`, as a proxy takes it. */
  public readonly certificateMapUrl: pulumi.Output<string>;
  public readonly certificateIds: pulumi.Output<string>[];
  public readonly certificates: pulumi.Output<Record<string, CertificateStatus>>;

  constructor(name: string, args: CertificateManagerHttpsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:loadbalancer:CertificateManagerHttps", name, {}, opts);
    const after = { parent: this, dependsOn: args.apis };
    const map = new gcp.certificatemanager.CertificateMap(`${name}-map`, { name: `${args.prefix}-lb`, labels: args.labels }, after);
    this.certificateMapUrl = pulumi.interpolate`//certificatemanager.googleapis.com/${map.id}`;
    // Named by their domain (an auto-name would hold its dots): a changed domain is a new
    // certificate next to the old ones, and nothing of a kept domain is ever replaced.
    const perDomain = [...args.domains].sort().map((domain) => {
      const resourceName = certificateManagerName(args.prefix, domain);
      const authorization = new gcp.certificatemanager.DnsAuthorization(
        `${name}-dns-${domain}`,
        { name: resourceName, domain, labels: args.labels },
        after,
      );
      const certificate = new gcp.certificatemanager.Certificate(
        `${name}-${domain}`,
        { name: resourceName, managed: { domains: [domain], dnsAuthorizations: [authorization.id] }, labels: args.labels },
        after,
      );
      new gcp.certificatemanager.CertificateMapEntry(
        `${name}-entry-${domain}`,
        { name: resourceName, map: map.name, hostname: domain, certificates: [certificate.id], labels: args.labels },
        { parent: this },
      );
      const status = pulumi.all([certificate.managed, authorization.dnsResourceRecords]).apply(
        ([managed, records]): CertificateStatus => ({
          state: managed?.state ?? "unknown",
          dnsAuthorization: records?.[0] ?? { name: "", type: "", data: "" },
        }),
      );
      return { domain, id: certificate.id, status };
    });
    this.certificateIds = perDomain.map((d) => d.id);
    this.certificates = pulumi.all(perDomain.map((d) => d.status)).apply((statuses) => Object.fromEntries(perDomain.map((d, i) => [d.domain, statuses[i]])));
    this.registerOutputs({ certificateMapUrl: this.certificateMapUrl, certificates: this.certificates });
  }
}
