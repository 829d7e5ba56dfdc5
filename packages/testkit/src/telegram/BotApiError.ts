/** An error answer of the Bot API: `{ok:false, error_code, description, parameters?}` with that HTTP status. */
export class BotApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number; migrate_to_chat_id?: number },
    /** The request broke a rule of the Bot API (recorded in specViolations), not just a state of the chat. */
    readonly violation = false,
  ) {
    super(description);
  }

  static badRequest(problem: string, violation = false): BotApiError {
    return new BotApiError(400, `Bad Request: ${problem}`, undefined, violation);
  }
}
