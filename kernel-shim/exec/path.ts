const NOT_NORMAL = /\/\/|\/\.\.?(\/|$)|\/$/;

/** Join a path to a base directory and normalise `.`/`..` lexically (the FS resolves symlinks). */
export function resolvePath(cwd: string, path: string): string {
  // Already normal (absolute, no empty, "." or ".." component, no trailing slash): as it is.
  if (path.startsWith("/") && path.length > 1 && !NOT_NORMAL.test(path)) return path;
  const full = path.startsWith("/") ? path : `${cwd.replace(/\/+$/, "")}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return `/${out.join("/")}`;
}
