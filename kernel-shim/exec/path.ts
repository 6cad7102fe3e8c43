/** Join a path to a base directory and normalise `.`/`..` lexically (the FS resolves symlinks). */
export function resolvePath(cwd: string, path: string): string {
  const full = path.startsWith("/") ? path : `${cwd.replace(/\/+$/, "")}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}
