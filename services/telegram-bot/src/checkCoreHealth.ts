import { type Client, credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import type { Config } from "./config.js";

const HealthClient = makeGenericClientConstructor(healthService, "Health");
type Check = (
  request: { service: string },
  options: { deadline: Date },
  callback: (err: ServiceError | null, response?: { status?: string | number }) => void,
) => void;

/** Asks totp-core's grpc.health.v1 service, over the bot's own mTLS identity, whether it is SERVING. */
export class CoreHealth {
  private readonly client: Client;

  constructor(totp: Config["totp"]) {
    this.client = new HealthClient(totp.address, credentials.createSsl(totp.ca, totp.key, totp.cert));
  }

  /** True when the core answers SERVING within `deadlineMs`; false on any other answer or failure. */
  serving(deadlineMs = 2000): Promise<boolean> {
    const check = (this.client as unknown as { Check: Check }).Check.bind(this.client);
    return new Promise((resolve) =>
      check({ service: "totp.v1.TotpService" }, { deadline: new Date(Date.now() + deadlineMs) }, (err, response) =>
        resolve(!err && (response?.status === "SERVING" || response?.status === 1)),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}
