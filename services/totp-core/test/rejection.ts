import { expect } from "vitest";
import { TotpError } from "../src/errors.js";

/** The TotpError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<TotpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TotpError);
  return err as TotpError;
}
