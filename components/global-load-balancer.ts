/**
 * GlobalLoadBalancer: one anycast address in front of every region's group. Google's front ends
 * send each user to the nearest region with healthy capacity, and to the next one when it fails.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CertificateManagerHttps, CertificateStatus } from "./certificate-manager-https";

export interface GlobalLoadBalancerArgs {
  prefix: string;
  /** The reserved anycast address, made before the fleets whose Kong trusts it. */
  address: gcp.compute.GlobalAddress;
  /** Instance group URLs of the regional groups, keyed by region. */
  backends: Record<string, pulumi.Input<string>>;
  /** Named port of the groups. */
  portName: string;
  /** Port and path that answer 200 when a VM can serve (the topology's, components/topologies/). */
  healthCheck: { port: number; path: string };
  /** With any, HTTPS with a Certificate Manager certificate per domain, and the domains' HTTP redirects to it. */
  domains: string[];
  sessionAffinity: string;
  timeoutSec: number;
  /** Share of requests logged, 0 to 1. */
  logSampleRate: number;
  labels: Record<string, string>;
  apis: pulumi.Resource[];
}

/** What the deploy check sends over plain HTTP when the stack serves HTTPS. */
const deployCheckHeader = "X-Geo-Api-Layer-Deploy-Check";

// Both the backend service and every forwarding rule: a mismatch is rejected, and @pulumi/gcp v9
// defaults to the classic EXTERNAL scheme.
const scheme = "EXTERNAL_MANAGED";

export class GlobalLoadBalancer extends pulumi.ComponentResource {
  public readonly address: pulumi.Output<string>;
  /** The URL users reach: https with domains, else http on the address. */
  public readonly url: pulumi.Output<string>;
  public readonly backendService: gcp.compute.BackendService;
  /** The URL map that serves users: the load balancer's request metrics carry its name. */
  public readonly urlMapName: pulumi.Output<string>;
  /** Plain HTTP on the address: where the deploy check probes (with domains, with checkHeader). */
  public readonly checkUrl: pulumi.Output<string>;
  /** With domains, the header plain HTTP must carry to be served rather than sent to HTTPS. */
  public readonly checkHeader?: { name: string; value: pulumi.Output<string> };
  /** With domains: each domain's certificate state and the DNS record that authorizes it. */
  public readonly certificates?: pulumi.Output<Record<string, CertificateStatus>>;
  /**
   * Changes whenever what the load balancer serves changes (fingerprints, which Google renews on
   * every update, and certificate ids), for the deploy check's triggers.
   */
  public readonly servingConfiguration: pulumi.Output<string>;

  constructor(name: string, args: GlobalLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("geo-api-layer:loadbalancer:GlobalLoadBalancer", name, {}, opts);
    const { prefix, address } = args;
    const after = { parent: this, dependsOn: args.apis };
    this.address = address.address;

    const healthCheck = new gcp.compute.HealthCheck(
      `${name}-health`,
      {
        name: `${prefix}-lb-health`,
        checkIntervalSec: 5,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        httpHealthCheck: { port: args.healthCheck.port, requestPath: args.healthCheck.path },
        logConfig: { enable: true },
      },
      after,
    );

    this.backendService = new gcp.compute.BackendService(
      `${name}-backend`,
      {
        name: `${prefix}-lb`,
        loadBalancingScheme: scheme,
        protocol: "HTTP",
        portName: args.portName,
        timeoutSec: args.timeoutSec,
        connectionDrainingTimeoutSec: 30,
        sessionAffinity: args.sessionAffinity,
        // On Envoy-based load balancers affinity acts only with a consistent-hash locality policy.
        ...(args.sessionAffinity === "NONE" ? {} : { localityLbPolicy: "RING_HASH" }),
        healthChecks: healthCheck.id,
        backends: Object.values(args.backends).map((group) => ({
          group,
          balancingMode: "UTILIZATION",
          maxUtilization: 0.8,
          capacityScaler: 1,
        })),
        // Ejects a VM that keeps answering 5xx although its health check passes.
        outlierDetection: { consecutiveErrors: 5, interval: { seconds: 10 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: 50 },
        logConfig: { enable: args.logSampleRate > 0, sampleRate: args.logSampleRate },
      },
      { parent: this },
    );

    const serving = new gcp.compute.URLMap(`${name}-urlmap`, { name: `${prefix}-lb`, defaultService: this.backendService.id }, { parent: this });
    this.urlMapName = serving.name;
    const forwardingRule = (role: string, port: number, target: pulumi.Input<string>) =>
      new gcp.compute.GlobalForwardingRule(
        `${name}-${role}`,
        { name: `${prefix}-${role}`, loadBalancingScheme: scheme, ipAddress: address.address, portRange: String(port), target, labels: args.labels },
        { parent: this },
      );
    // Plain HTTP on the address serves without DNS or a certificate: what the deploy check probes.
    this.checkUrl = pulumi.interpolate`http://${address.address}`;
    const servingParts: pulumi.Input<string>[] = [this.backendService.fingerprint, serving.fingerprint];

    if (args.domains.length > 0) {
      const https = new CertificateManagerHttps(`${name}-https`, { prefix, domains: args.domains, labels: args.labels, apis: args.apis }, { parent: this });
      // TLS 1.2 and later with forward-secret ciphers; without a policy Google accepts TLS 1.0.
      const tls = new gcp.compute.SSLPolicy(`${name}-tls`, { name: `${prefix}-lb-tls`, profile: "MODERN", minTlsVersion: "TLS_1_2" }, after);
      const httpsProxy = new gcp.compute.TargetHttpsProxy(
        `${name}-https`,
        { name: `${prefix}-https`, urlMap: serving.id, certificateMap: https.certificateMapUrl, sslPolicy: tls.id },
        { parent: this },
      );
      forwardingRule("https", 443, httpsProxy.id);
      // Plain HTTP sends everyone to HTTPS (the address to the first domain); it serves only the
      // deploy check, which cannot wait for DNS and a certificate and carries a header no one else knows.
      const checkValue = new random.RandomId(`${name}-check-header`, { byteLength: 16 }, { parent: this });
      this.checkHeader = { name: deployCheckHeader, value: checkValue.hex };
      const http = this.redirectToHttps(name, args, checkValue.hex);
      const httpProxy = new gcp.compute.TargetHttpProxy(`${name}-http`, { name: `${prefix}-http`, urlMap: http.id }, { parent: this });
      forwardingRule("http", 80, httpProxy.id);
      servingParts.push(httpsProxy.fingerprint, http.fingerprint, ...https.certificateIds);
      this.certificates = https.certificates;
      this.url = pulumi.output(`https://${args.domains[0]}`);
    } else {
      const httpProxy = new gcp.compute.TargetHttpProxy(`${name}-http`, { name: `${prefix}-http`, urlMap: serving.id }, { parent: this });
      forwardingRule("http", 80, httpProxy.id);
      this.url = this.checkUrl;
    }
    this.servingConfiguration = pulumi.all(servingParts).apply((parts) => parts.join(" "));

    this.registerOutputs({ address: this.address, url: this.url, checkUrl: this.checkUrl, certificates: this.certificates });
  }

  /**
   * Plain HTTP's URL map with domains: the domains' requests and the address's redirect to HTTPS;
   * only a request carrying the deploy check's header reaches the backend.
   */
  private redirectToHttps(name: string, args: GlobalLoadBalancerArgs, checkValue: pulumi.Output<string>): gcp.compute.URLMap {
    const toHttps = (host?: string) => ({ httpsRedirect: true, ...(host ? { hostRedirect: host } : {}), redirectResponseCode: "MOVED_PERMANENTLY_DEFAULT", stripQuery: false });
    return new gcp.compute.URLMap(
      `${name}-http-map`,
      {
        name: `${args.prefix}-http`,
        defaultUrlRedirect: toHttps(args.domains[0]),
        hostRules: [
          { hosts: args.domains, pathMatcher: "https-redirect" },
          { hosts: ["*"], pathMatcher: "deploy-check" },
        ],
        pathMatchers: [
          { name: "https-redirect", defaultUrlRedirect: toHttps() },
          {
            name: "deploy-check",
            defaultUrlRedirect: toHttps(args.domains[0]),
            routeRules: [
              {
                priority: 1,
                matchRules: [{ prefixMatch: "/", headerMatches: [{ headerName: deployCheckHeader, exactMatch: checkValue }] }],
                service: this.backendService.id,
              },
            ],
          },
        ],
      },
      { parent: this },
    );
  }
}
