import { defineConfig } from "vitest/config";
import { withSystemDirs } from "./scripts/systemPath.mjs";

// The cluster tests start processes that run iptables, conntrack and runc by name (see systemPath.mjs).
process.env.PATH = withSystemDirs(process.env.PATH);

export default defineConfig({
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "services/*/test/**/*.test.ts",
      "deploy/helm/test/**/*.test.ts",
      "test/**/*.test.ts",
      "bench/test/**/*.test.ts",
    ],
    // Tests start real servers (OpenBao, totp-core, kube-apiserver): these bounds only stop a hang, they time nothing.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", "./test/plainSummary.ts"],
  },
});
