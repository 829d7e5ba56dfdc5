import { access, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCommand as command } from "./runCommand.js";

/**
 * Global settings a kubelet and kube-proxy change on the host (and ip_forward, which pod-to-Service traffic needs):
 * read before the cluster starts, written back after it stops.
 */
const SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/ipv4/conf/all/route_localnet",
  "net/ipv4/ip_forward",
  "net/bridge/bridge-nf-call-iptables",
];

const NETNS_DIR = "/run/netns";
/**
 * Folders the cluster's parts create at fixed places (containerd's shim sockets and runc state, the CNI cache,
 * the flex-volume folder, the network-namespace folder): removed after a run that created them.
 */
const FIXED_FOLDERS = ["/run/containerd", "/var/lib/cni", "/usr/libexec/kubernetes", NETNS_DIR];
/**
 * containerd's CRI names its pods' network namespaces cni-<uuid>; others share the folder (podman's are
 * netns-<uuid>) and are none of ours.
 */
const OUR_NETNS = /^cni-/;
/** Chains kubelet and kube-proxy (KUBE-*) and the CNI portmap plugin (CNI-*) create. */
const OUR_CHAINS = /^(KUBE-|CNI-)/;
const TABLES = ["filter", "nat", "mangle", "raw"];

export interface HostState {
  /** The sysctls as they were, path below /proc/sys to value. */
  readonly sysctls: ReadonlyMap<string, string>;
  /** Sets a sysctl (path below /proc/sys); restore() writes the saved value back. */
  setSysctl(path: string, value: string): Promise<void>;
  /**
   * Undoes what the cluster left on the host: mounts below `dir`, network namespaces and kubepods cgroups that did
   * not exist before (processes still in those cgroups are killed: only the cluster's pods run there), KUBE-* and
   * CNI-* iptables chains and the rules jumping to them, the fixed folders the run created, and the sysctls. Each step runs even if one before failed;
   * the first failure is thrown at the end.
   */
  restore(): Promise<void>;
}

/** Records what the host looks like before a cluster starts, so that its stop can put it back. */
export async function snapshotHostState(dir: string): Promise<HostState> {
  const sysctls = new Map<string, string>();
  for (const path of SYSCTLS) {
    const value = await readFile(join("/proc/sys", path), "utf8").catch(() => undefined);
    if (value !== undefined) sysctls.set(path, value.trim());
  }
  const netnsBefore = new Set(await readdir(NETNS_DIR).catch(() => []));
  const netnsMountedBefore = (await mountPoints()).includes(NETNS_DIR);
  const foldersBefore = new Set<string>();
  for (const folder of FIXED_FOLDERS) if (await exists(folder)) foldersBefore.add(folder);
  const cgroupsBefore = new Set(await kubepodsCgroups());
  const rulesBefore = new Map<string, Set<string>>();
  for (const family of iptablesFamilies()) rulesBefore.set(family, new Set(await iptablesLines(family)));

  return {
    sysctls,
    async setSysctl(path, value) {
      if (!sysctls.has(path)) throw new Error(`${path}: not a sysctl this snapshot saved`);
      await writeFile(join("/proc/sys", path), value);
    },
    async restore() {
      const failures: unknown[] = [];
      const step = async (action: () => Promise<void>) => {
        await action().catch((error: unknown) => failures.push(error));
      };
      await step(() => unmountBelow(dir));
      // The CNI plugins bind-mount the folder on itself; namespaces mounted in it before that (an earlier pod) sit
      // beneath that mount, where their paths no longer reach them: lift it first when this run made it.
      if (!netnsMountedBefore && (await mountPoints()).includes(NETNS_DIR)) {
        // A pod's namespace still held by a process that is on its way out keeps the folder busy for a moment: then
        // it is detached lazily, and the kernel lets go of it once the last holder is gone.
        await step(() =>
          command("umount", [NETNS_DIR]).then(
            () => undefined,
            () => command("umount", ["-l", NETNS_DIR]).then(() => undefined),
          ),
        );
      }
      for (const name of await readdir(NETNS_DIR).catch(() => [])) {
        if (netnsBefore.has(name) || !OUR_NETNS.test(name)) continue;
        await step(async () => {
          await command("umount", [join(NETNS_DIR, name)]).catch(() => undefined);
          await rm(join(NETNS_DIR, name), { force: true });
        });
      }
      for (const cgroup of await kubepodsCgroups()) {
        if (!cgroupsBefore.has(cgroup)) await step(() => removeCgroupTree(cgroup));
      }
      for (const family of iptablesFamilies()) {
        await step(() => removeOurChains(family, rulesBefore.get(family) ?? new Set()));
      }
      for (const folder of FIXED_FOLDERS) {
        if (foldersBefore.has(folder)) continue;
        if (folder === NETNS_DIR) {
          // Only when empty: another engine (podman) may keep its namespaces there by now. The CNI plugins
          // bind-mount the folder on itself (shared propagation) before they put namespaces in it.
          if ((await readdir(folder).catch(() => ["?"])).length > 0) continue;
          await step(async () => {
            await command("umount", [folder]).catch(() => undefined);
            await rmdir(folder);
          });
        } else {
          await step(() => rm(folder, { recursive: true, force: true }));
        }
      }
      for (const [path, value] of sysctls) await step(() => writeFile(join("/proc/sys", path), value));
      if (failures.length > 0) throw failures[0];
    },
  };
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function iptablesFamilies(): string[] {
  return ["iptables", "ip6tables"];
}

/** `-A CHAIN ...` rule lines and `:CHAIN` declarations of every table, each prefixed with its table. */
async function iptablesLines(family: string): Promise<string[]> {
  const lines: string[] = [];
  for (const table of TABLES) {
    const saved = await command(`${family}-save`, ["-t", table]).catch(() => "");
    for (const line of saved.split("\n")) {
      if (line.startsWith("-A ") || line.startsWith(":")) lines.push(`${table} ${line.replace(/ \[\d+:\d+\]$/, "")}`);
    }
  }
  return lines;
}

/**
 * One iptables-restore --noflush per family: delete the new rules in other chains that jump to our chains, then
 * flush and delete the new chains. iptables-restore parses the saved rules' quoting itself.
 */
async function removeOurChains(family: string, before: Set<string>): Promise<void> {
  const now = await iptablesLines(family);
  let script = "";
  for (const table of TABLES) {
    const inTable = now.filter((line) => line.startsWith(`${table} `)).map((line) => line.slice(table.length + 1));
    const chains = inTable
      .filter((line) => line.startsWith(":"))
      .map((line) => line.slice(1).split(" ")[0] ?? "")
      .filter((chain) => OUR_CHAINS.test(chain) && !beforeHasChain(before, table, chain));
    const jumps = inTable.filter((line) => {
      if (!line.startsWith("-A ") || before.has(`${table} ${line}`)) return false;
      const chain = line.split(" ")[1] ?? "";
      return !OUR_CHAINS.test(chain) && chains.some((ours) => line.includes(` ${ours}`));
    });
    if (chains.length === 0 && jumps.length === 0) continue;
    script += `*${table}\n`;
    for (const rule of jumps) script += `-D ${rule.slice(3)}\n`;
    for (const chain of chains) script += `-F ${chain}\n`;
    for (const chain of chains) script += `-X ${chain}\n`;
    script += "COMMIT\n";
  }
  if (script) await command(`${family}-restore`, ["--noflush"], script);
}

function beforeHasChain(before: Set<string>, table: string, chain: string): boolean {
  for (const line of before) if (line.startsWith(`${table} :${chain} `)) return true;
  return false;
}

/** The mount points of this process's mount namespace, as /proc/self/mountinfo lists them. */
async function mountPoints(): Promise<string[]> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined);
}

/** Mount points below `dir`, deepest first, unmounted lazily: a busy one must not keep the rest in place. */
async function unmountBelow(dir: string): Promise<void> {
  const points = (await mountPoints())
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await command("umount", ["-l", point]).catch(() => undefined);
}

/** Every `kubepods` cgroup of the cgroupfs driver, in each mounted hierarchy (v1 controllers and the v2 one). */
async function kubepodsCgroups(): Promise<string[]> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const roots = mountinfo
    .split("\n")
    .filter((line) => / - cgroup2? /.test(line))
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined);
  const found: string[] = [];
  for (const root of new Set(roots)) {
    const candidate = join(root, "kubepods");
    if (
      await readdir(candidate).then(
        () => true,
        () => false,
      )
    )
      found.push(candidate);
  }
  return found;
}

async function removeCgroupTree(path: string): Promise<void> {
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(join(path, entry.name));
  }
  const procs = await readFile(join(path, "cgroup.procs"), "utf8").catch(() => "");
  for (const pid of procs.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone already.
    }
  }
  // A killed process leaves its cgroup a moment after the signal.
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      if (attempt >= 50 || (error as NodeJS.ErrnoException).code !== "EBUSY") throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
