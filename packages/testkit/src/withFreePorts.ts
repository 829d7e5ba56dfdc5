import { freePort } from "./freePort.js";

const PORT_ATTEMPTS = 3;

/**
 * Calls `start` with `count` distinct loopback ports that were free when chosen. Another test may take one before
 * the server binds it: when `start` fails with "address already in use", it is called again with new ports (`start`
 * stops what it started before it throws).
 */
export async function withFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    if (new Set(ports).size < count) continue;
    try {
      return await start(ports);
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !/address already in use/.test(String(error))) throw error;
    }
  }
}
