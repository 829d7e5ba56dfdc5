/** An error reply of the API: HTTP status, Zulip's `code`, and any extra fields its JSON body carries. */
export class ZulipApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ZulipApiError";
  }

  /** The body Zulip sends: result, msg, code, then the extra fields. */
  body(): Record<string, unknown> {
    return { result: "error", msg: this.message, code: this.code, ...this.extra };
  }
}

/** Zulip's error for a required parameter that is absent. */
export function missingArgument(name: string): ZulipApiError {
  return new ZulipApiError(400, `Missing '${name}' argument`, "REQUEST_VARIABLE_MISSING", { var_name: name });
}

/** Zulip's error for a parameter whose value it cannot use. */
export function invalidArgument(name: string, why = "is not valid JSON."): ZulipApiError {
  return new ZulipApiError(400, `Argument "${name}" ${why}`, "BAD_REQUEST", { var_name: name });
}
