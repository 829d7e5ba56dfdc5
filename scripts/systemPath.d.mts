/** See systemPath.mjs. */
export function withSystemDirs(path?: string): string;
