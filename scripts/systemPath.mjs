import { delimiter } from "node:path";

/**
 * Debian puts the container runtime's admin tools (iptables, conntrack, runc) in the sbin folders, which a PATH
 * set outside a root login shell may lack. The setup looks for them there and the tests, which start kube-proxy and
 * the kubelet (they run those tools by name), hand them on: the answer is `path` with the missing folders appended.
 */
export function withSystemDirs(path = "") {
  const dirs = path.split(delimiter).filter(Boolean);
  for (const dir of ["/usr/local/sbin", "/usr/sbin", "/sbin"]) if (!dirs.includes(dir)) dirs.push(dir);
  return dirs.join(delimiter);
}
