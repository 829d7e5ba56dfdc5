// Test-only declarations of the zulip-js 2.1.0 calls this folder uses (the package ships none).
declare module "zulip-js" {
  /** Every reply body; zulip-js returns error bodies instead of throwing. */
  export interface ZulipReply {
    result: "success" | "error";
    msg: string;
    code?: string;
    [field: string]: unknown;
  }
  type Params = Record<string, string | number | unknown[]>;
  export interface ZulipClient {
    callEndpoint(path: string, method?: string, params?: Params): Promise<ZulipReply>;
    users: { me: { getProfile(): Promise<ZulipReply> } };
    queues: {
      register(params: Params): Promise<ZulipReply>;
      deregister(params: { queue_id: string }): Promise<ZulipReply>;
    };
    events: { retrieve(params: { queue_id: string; last_event_id: number; dont_block?: string }): Promise<ZulipReply> };
    messages: {
      send(params: Params): Promise<ZulipReply>;
      update(params: { message_id: number; content: string }): Promise<ZulipReply>;
      deleteById(params: { message_id: number }): Promise<ZulipReply>;
      getById(params: { message_id: number; apply_markdown?: string }): Promise<ZulipReply>;
    };
  }
  export default function zulip(
    config: { realm: string; username: string; apiKey: string } | { zuliprc: string },
  ): Promise<ZulipClient>;
}
