import { spiffeId } from "@totp-custody/pki";
import { DEV_ADMIN } from "./devLayout.js";

/**
 * The policy `npm start` writes once to `.dev/policy.yaml`: the admin client (totpctl's default identity in the
 * checkout) manages everything, each bot acts for the users of its own platform, and principals may register
 * personal labels. The file is the user's to edit afterwards; totp-core reloads it on change.
 */
export function devPolicyYaml(): string {
  return `# Development policy written by \`npm start\`; edit freely, totp-core reloads it. See "The policy file" in README.md.
clients:
  ${spiffeId(DEV_ADMIN)}: { principal: service:${DEV_ADMIN}, admin: true }
  ${spiffeId("telegram-bot")}: { actsFor: telegram }
  ${spiffeId("zulip-bot")}: { actsFor: zulip }
groups: {}
shared: {}
selfService: true
`;
}
