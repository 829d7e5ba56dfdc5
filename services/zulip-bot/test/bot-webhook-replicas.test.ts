import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, newSecret, type ProcessHandle } from "@totp-custody/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, type BotFixture, botDms, expectCleanOutput, expectCodeReply, startBotFixture } from "./botFixture.js";

const TOKEN = "outgoing-webhook-token-of-the-replicas";
/** Zulip's outgoing-webhook timeout, which the test server keeps by default: past it, Zulip posts the message again. */
const ZULIP_WEBHOOK_TIMEOUT_MS = 10_000;
/** The bot's promise: a message waits at most this long for a totp-core that cannot answer. */
const CORE_WAIT_MS = 60_000;

/** A Service in front of the replicas: each POST goes to the next replica in turn. */
async function startRoundRobin(ports: number[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const server = createServer((incoming, outgoing) => {
    const port = ports[next++ % ports.length];
    const forwarded = request(
      { host: "127.0.0.1", port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on("error", () => outgoing.destroy());
    // Zulip giving up on a request closes it: the replica sees its client gone, as behind a real Service.
    outgoing.on("close", () => forwarded.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/zulip`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("two webhook replicas behind one Service, and a totp-core that stops answering", () => {
  let fx: BotFixture;
  let service: Awaited<ReturnType<typeof startRoundRobin>>;
  const replicas: ProcessHandle[] = [];
  const secrets: string[] = [TOKEN];

  beforeAll(async () => {
    fx = await startBotFixture();
    const ports = [await freePort(), await freePort()];
    for (const port of ports) {
      replicas.push(await fx.startBot({ ZULIP_WEBHOOK_LISTEN: `127.0.0.1:${port}`, ZULIP_WEBHOOK_TOKEN: TOKEN }));
    }
    service = await startRoundRobin(ports);
    fx.zulip.setOutgoingWebhook(fx.bot, { url: service.url, token: TOKEN });
  });
  afterAll(async () => {
    for (const replica of replicas) expectCleanOutput(replica, secrets);
    await service?.close();
    await fx?.close();
  });

  it("answers a code asked while totp-core is stopped past Zulip's timeout exactly once, when the core is back", async () => {
    const { seed, before } = await addLabel("held");
    const askedAt = Date.now();
    let sent = 0;
    try {
      fx.core.process.kill("SIGSTOP");
      sent = fx.zulip.sendDm(fx.alice, fx.bot, "code held");
      // An outage longer than Zulip waits for the webhook's answer.
      await sleep(ZULIP_WEBHOOK_TIMEOUT_MS + 2000);
    } finally {
      fx.core.process.kill("SIGCONT");
    }
    await expectTheCodeOnce(sent, before, seed, askedAt);
  });

  it("answers a code asked while totp-core is down past Zulip's timeout (killed, started again) exactly once", async () => {
    const { seed, before } = await addLabel("restarted");
    const restarting = fx.restartCore(ZULIP_WEBHOOK_TIMEOUT_MS + 2000);
    const askedAt = Date.now();
    const sent = fx.zulip.sendDm(fx.alice, fx.bot, "code restarted");
    await restarting;
    await expectTheCodeOnce(sent, before, seed, askedAt);
  });

  it("answers a code whose reply finds Zulip refusing connections exactly once, when Zulip is back", async () => {
    const { seed, before } = await addLabel("outage");
    const askedAt = Date.now();
    let sent = 0;
    let zulipDown: Promise<void> = Promise.resolve();
    try {
      // The core held until Zulip has its webhook answer, so that the reply is sent while Zulip is down.
      fx.core.process.kill("SIGSTOP");
      sent = fx.zulip.sendDm(fx.alice, fx.bot, "code outage");
      await fx.zulip.waitFor(() => fx.zulip.webhookDeliveries.find((d) => d.messageId === sent && d.status === 200), {
        what: "the webhook answered",
      });
      zulipDown = fx.zulip.refuseConnectionsFor(3000);
    } finally {
      fx.core.process.kill("SIGCONT");
    }
    await zulipDown;
    await expectTheCodeOnce(sent, before, seed, askedAt);
    const retried = replicas.map((r) => r.stdout.split("\n").filter((l) => l.includes("could not reach Zulip")).length);
    expect(
      retried.reduce((a, b) => a + b),
      "the replica's tries logged",
    ).toBeGreaterThan(0);
  });

  /** A new label of alice's, and how many messages the bot had sent her by then. */
  async function addLabel(label: string): Promise<{ seed: string; before: number }> {
    const seed = newSecret();
    secrets.push(seed);
    expect((await ask(fx, fx.alice, `add ${label} ${seed}`)).visibleText).toMatch(new RegExp(`^Stored ${label}`));
    return { seed, before: botDms(fx, fx.alice).length };
  }

  /**
   * The code, not "unavailable", within the core wait (the replica waited for the core longer than Zulip waits for
   * a webhook), and only once.
   */
  async function expectTheCodeOnce(sent: number, before: number, seed: string, askedAt: number): Promise<void> {
    const reply = await fx.zulip.waitFor(() => botDms(fx, fx.alice)[before], {
      what: "the code after the core came back",
      timeoutMs: CORE_WAIT_MS + 10_000,
    });
    secrets.push(expectCodeReply(reply, seed, askedAt));
    expect(reply.timestamp * 1000).toBeLessThanOrEqual(askedAt + CORE_WAIT_MS + 1000);
    await expectOneDeliveryAndOneReply(sent, before);
  }

  /**
   * Zulip had the webhook's answer in time, so it never posted the message again (to the other replica), and the
   * sender got one answer. One marker per replica (the Service alternates): each answers a sender's messages in
   * order, so once both markers are answered, a second answer to the message would be there too.
   */
  async function expectOneDeliveryAndOneReply(messageId: number, before: number): Promise<void> {
    const delivery = fx.zulip.webhookDeliveries.find((d) => d.messageId === messageId);
    expect(delivery).toMatchObject({ attempts: 1, status: 200, done: true, response: { response_not_required: true } });
    expect(delivery?.error).toBeUndefined();
    for (let i = 0; i < replicas.length; i++) {
      expect((await ask(fx, fx.alice, "whoami")).visibleText).toContain(`zulip:${fx.alice.id}`);
    }
    expect(botDms(fx, fx.alice)).toHaveLength(before + 1 + replicas.length);
  }
});
