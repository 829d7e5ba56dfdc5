import { expect } from "vitest";
import { TotpError } from "../src/errors.js";

/** Runs `fn`, expects it to refuse with TotpError INVALID_ARGUMENT, and answers the message for closer checks. */
export function expectInvalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TotpError);
    expect((err as TotpError).code).toBe("INVALID_ARGUMENT");
    return (err as TotpError).message;
  }
  throw new Error("expected an INVALID_ARGUMENT refusal, but the call returned");
}
